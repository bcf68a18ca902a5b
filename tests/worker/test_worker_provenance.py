"""Provenance from the cloud path: the shot worker writes the same ``storyreel`` chunks
as the desktop's draft renderer into the PNG it uploads (to moto's S3, standing in for
R2), so ``app.core.provenance.read_provenance`` reads a cloud image like a draft one."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageChops

from app.core.provenance import read_chunks, read_provenance
from app.worker.draft import MODEL, DraftBackend
from app.worker.handler import INVALID_INPUT, MAX_ID_CHARS, ShotWorker, encode_png
from app.worker.upload import S3Uploader
from tests.worker.conftest import run_job

RUN = "20261127-120000-abcdef"
KEY = f"runs/{RUN}/shots/s02-03/2.png"
PROMPT = "medium shot, camera static. interior, lighthouse, night. Mara trims the lamp, 灯台."


def job_input(bucket: str, *, key: str = KEY, **changes) -> dict:
    payload = {"task": "shot", "prompt": PROMPT, "negative_prompt": "text, watermark",
               "width": 512, "height": 288, "seed": 77, "steps": 4, "guidance": 0.0,
               "output": {"bucket": bucket, "key": key},
               "provenance": {"run_id": RUN, "scene": 2, "shot_id": "s02-03",
                              "shot_number": "2C", "attempt": 2}}
    payload.update(changes)
    return payload


def uploaded(s3, key: str = KEY) -> bytes:
    return s3.get_object(Bucket=s3.bucket, Key=key)["Body"].read()


def test_the_uploaded_png_carries_what_made_it(worker_env, s3, monkeypatch):
    monkeypatch.setenv("RUNPOD_ENDPOINT_ID", "ep-shots-1")  # runpod sets it on the endpoint
    output = run_job({"id": "job-42-e1", "input": job_input(s3.bucket)})

    data = uploaded(s3)
    assert hashlib.sha256(data).hexdigest() == output["image"]["sha256"]  # of these bytes
    assert len(data) == output["image"]["bytes"]
    p = read_provenance(data)
    assert (p.run_id, p.scene, p.shot_id, p.shot_number, p.attempt) == (
        RUN, 2, "s02-03", "2C", 2)
    assert (p.prompt, p.negative_prompt, p.seed) == (PROMPT, "text, watermark", 77)
    assert (p.model, p.endpoint, p.job_id) == (MODEL, "ep-shots-1", "job-42-e1")
    assert (p.width, p.height) == (512, 288)
    assert p.model == output["model"]
    # load and render as answered; the upload cannot be timed inside the file it uploads
    assert dict(p.timings) == {k: output["timings"][k] for k in ("load_s", "render_s")}
    created = datetime.fromisoformat(p.created_at)
    assert created.utcoffset() is not None
    assert abs((datetime.now(UTC) - created).total_seconds()) < 120
    assert p.software.startswith("Storyreel ")
    chunks = read_chunks(data)  # the registered keywords ordinary image tools show
    assert chunks["Description"] == PROMPT and chunks["Source"] == MODEL
    assert chunks["Comment"] == f"run {RUN}, scene 2, shot 2C (s02-03), attempt 2, seed 77"


def test_without_the_provenance_object_the_key_names_the_shot(worker_env, s3):
    payload = job_input(s3.bucket)
    del payload["provenance"]  # a desktop from before the field: still accepted
    output = run_job({"id": "job-7", "input": payload})
    assert "error" not in output

    p = read_provenance(uploaded(s3))
    assert (p.run_id, p.scene, p.shot_id, p.shot_number, p.attempt) == (
        RUN, 2, "s02-03", "", 2)  # the scene from the shot id; no number to read
    assert (p.prompt, p.seed, p.model, p.job_id) == (PROMPT, 77, MODEL, "job-7")
    assert p.endpoint == ""  # not on RunPod: no RUNPOD_ENDPOINT_ID


def test_the_chunks_leave_the_backends_pixels_alone(worker_env, s3):
    run_job({"id": "px", "input": job_input(s3.bucket)})
    plain = encode_png(DraftBackend().render(prompt=PROMPT, negative_prompt="", width=512,
                                             height=288, seed=77, steps=4, guidance=0.0), {})
    marked = Image.open(io.BytesIO(uploaded(s3)))
    marked.verify()  # every chunk's CRC
    marked = Image.open(io.BytesIO(uploaded(s3))).convert("RGB")
    original = Image.open(io.BytesIO(plain)).convert("RGB")
    assert ImageChops.difference(original, marked).getbbox() is None
    assert read_provenance(plain) is None  # the backend's own bytes carry none


def test_the_endpoint_is_the_workers_and_the_load_time_the_first_jobs(s3):
    backend = DraftBackend()
    backend.load_s = 3.25
    worker = ShotWorker(backend, S3Uploader(s3, bucket=s3.bucket), endpoint="ep-9")
    second_key = f"runs/{RUN}/shots/s02-03/3.png"
    worker.handle({"id": "j1", "input": job_input(s3.bucket)})
    worker.handle({"id": "j2", "input": job_input(s3.bucket, key=second_key, provenance=None)})

    first, second = read_provenance(uploaded(s3)), read_provenance(uploaded(s3, second_key))
    assert (first.endpoint, first.job_id, first.timings["load_s"]) == ("ep-9", "j1", 3.25)
    assert (second.endpoint, second.job_id, second.timings["load_s"]) == ("ep-9", "j2", 0.0)
    assert second.attempt == 3  # read from its key: a null provenance is an absent one


BAD_PROVENANCE = [
    (["run", 1], "provenance must be an object"),
    ("20261127", "provenance must be an object"),
    ({"run_id": 5}, "provenance.run_id must be an id"),
    ({"run_id": "../etc"}, "provenance.run_id must be an id"),
    ({"shot_id": "s 01"}, "provenance.shot_id must be an id"),
    ({"shot_id": "s" * (MAX_ID_CHARS + 1)}, f"at most {MAX_ID_CHARS}"),
    ({"scene": "2"}, "provenance.scene must be a whole number from 1"),
    ({"scene": 0}, "provenance.scene must be a whole number from 1"),
    ({"attempt": True}, "provenance.attempt must be a whole number"),
    ({"attempt": 2.5}, "provenance.attempt must be a whole number"),
    ({"shot_number": 3}, "provenance.shot_number must be a string"),
    ({"shot_number": "2C" * 40}, "provenance.shot_number must be a string of at most 64"),
    ({"run_id": "20261127-999999-ffffff"}, "provenance.run_id '20261127-999999-ffffff' "
                                           f"does not match output.key '{KEY}'"),
    ({"shot_id": "s09-09"}, "provenance.shot_id 's09-09' does not match output.key"),
    ({"attempt": 3}, "provenance.attempt 3 does not match output.key"),
]


@pytest.mark.parametrize("provenance, message", BAD_PROVENANCE)
def test_bad_provenance_is_refused_and_nothing_is_uploaded(worker_env, s3, provenance,
                                                           message):
    output = run_job({"id": "bad", "input": job_input(s3.bucket, provenance=provenance)})
    assert set(output) == {"error"}
    assert output["error"].startswith(f"{INVALID_INPUT}: provenance")
    assert message in output["error"]
    assert s3.list_objects_v2(Bucket=s3.bucket).get("KeyCount", 0) == 0


def test_unknown_provenance_fields_are_ignored(worker_env, s3):
    payload = job_input(s3.bucket)
    payload["provenance"] = {**payload["provenance"], "lora": "ink-wash"}  # a newer desktop
    assert "error" not in run_job({"id": "n", "input": payload})
    assert read_provenance(uploaded(s3)).shot_number == "2C"
