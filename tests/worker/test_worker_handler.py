"""The shot worker's handler with the draft backend, uploading to moto's S3 server
(standing in for R2), plus the refusals of bad input."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys

import pytest
from PIL import Image, ImageChops

from app.core.errors import StorageError
from app.core.models import ShotType
from app.core.renderers import RenderRequest
from app.core.renderers import runpod as core_renderer
from app.core.storage import check_key as core_check_key
from app.worker import handler as worker_handler
from app.worker.draft import DraftBackend, panel_spec
from app.worker.handler import (
    INVALID_INPUT,
    InvalidInput,
    ShotWorker,
    check_key,
    parse_input,
)
from app.worker.upload import S3Uploader, UploadError
from tests.worker.conftest import run_job

BUCKET = "storyreel"
KEY = "runs/20261127-120000-abcdef/shots/s01-01/1.png"


def job_input(bucket: str, **changes) -> dict:
    payload = {"task": "shot", "prompt": "wide shot, camera pan. exterior, harbour, dawn. "
               "Boats at rest.", "negative_prompt": "text", "width": 512, "height": 288,
               "seed": 77, "steps": 4, "guidance": 0.0, "output": {"bucket": bucket, "key": KEY}}
    payload.update(changes)
    return payload


def test_handler_renders_uploads_and_answers_the_contract(worker_env, s3):
    output = run_job({"id": "job-1", "input": job_input(s3.bucket)})

    assert set(output) == {"image", "timings", "model"}
    image = output["image"]
    assert {k: image[k] for k in ("bucket", "key", "width", "height", "seed", "mime")} == {
        "bucket": s3.bucket, "key": KEY, "width": 512, "height": 288, "seed": 77,
        "mime": "image/png"}
    assert set(output["timings"]) == {"load_s", "render_s", "encode_s", "upload_s"}
    assert output["model"] == "storyreel-draft-panel-1"
    assert len(json.dumps(output)) < 1000  # keys and numbers, never image bytes

    stored = s3.get_object(Bucket=s3.bucket, Key=KEY)
    data = stored["Body"].read()
    assert hashlib.sha256(data).hexdigest() == image["sha256"] and len(data) == image["bytes"]
    assert stored["ContentType"] == "image/png"
    assert stored["Metadata"]["sha256"] == image["sha256"] and stored["Metadata"]["seed"] == "77"
    png = Image.open(io.BytesIO(data))
    assert png.format == "PNG" and png.size == (512, 288)


def test_the_same_seed_gives_the_same_image(worker_env, s3):
    def picture(job_id: str, **changes) -> Image.Image:
        payload = job_input(s3.bucket, **changes)
        payload["output"] = {"bucket": s3.bucket, "key": f"runs/r/shots/s01-01/{job_id}.png"}
        run_job({"id": job_id, "input": payload})
        data = s3.get_object(Bucket=s3.bucket, Key=payload["output"]["key"])["Body"].read()
        return Image.open(io.BytesIO(data)).convert("RGB")

    # The files differ (each names its own job id and times); the pixels do not.
    first, second, other = picture("1"), picture("2"), picture("3", seed=78)
    assert ImageChops.difference(first, second).getbbox() is None
    assert ImageChops.difference(first, other).getbbox() is not None


def test_load_time_is_charged_to_the_first_job_only(s3):
    backend = DraftBackend()
    backend.load_s = 12.5
    worker = ShotWorker(backend, S3Uploader(s3, bucket=s3.bucket))
    first = worker.handle({"id": "j", "input": job_input(s3.bucket)})
    payload = job_input(s3.bucket)
    payload["output"]["key"] = KEY.replace("/1.png", "/2.png")
    second = worker.handle({"id": "k", "input": payload})
    assert first["timings"]["load_s"] == 12.5 and second["timings"]["load_s"] == 0.0


def test_uploader_uses_the_checksum_settings_r2_needs(worker_env):
    uploader = S3Uploader.from_env(os.environ)
    config = uploader.client.meta.config
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert uploader.client.meta.region_name == "auto"


BAD_INPUTS = [
    ({"task": "video"}, "task must be 'shot'"),
    ({"prompt": "   "}, "prompt must be a non-empty string"),
    ({"prompt": None}, "prompt must be a non-empty string"),
    ({"prompt": "x" * 5000}, "at most 4000"),
    ({"width": 1000}, "width must be a multiple of 16"),
    ({"height": 4096}, "height must be a whole number from 256 to 2048"),
    ({"width": "512"}, "width must be a whole number"),
    ({"steps": 0}, "steps must be a whole number from 1 to 50"),
    ({"seed": -1}, "seed must be a whole number"),
    ({"seed": True}, "seed must be a whole number"),
    ({"guidance": -1}, "guidance must be a number from 0"),
    ({"guidance": float("nan")}, "guidance must be a number"),
    ({"negative_prompt": 5}, "negative_prompt must be a string"),
    ({"output": None}, "output must be an object"),
    ({"output": {"bucket": "Bad_Bucket", "key": KEY}}, "not a valid bucket name"),
    ({"output": {"bucket": BUCKET, "key": "../etc/passwd.png"}}, "must be a relative path"),
    ({"output": {"bucket": BUCKET, "key": "/abs/1.png"}}, "must be a relative path"),
    ({"output": {"bucket": BUCKET, "key": "runs//1.png"}}, "must be a relative path"),
    ({"output": {"bucket": BUCKET, "key": "runs\\x\\1.png"}}, "must be a relative path"),
    ({"output": {"bucket": BUCKET, "key": "runs/x/1.jpg"}}, "must end in .png"),
    ({"output": {"bucket": BUCKET, "key": ""}}, "empty or too long"),
    # only the shape the desktop writes: runs/<run>/shots/<shot>/<attempt>.png
    ({"output": {"bucket": BUCKET, "key": "elsewhere/panel.png"}},
     "must be runs/<run>/shots/<shot>/<attempt>.png"),
    ({"output": {"bucket": BUCKET, "key": "runs/r/shots/s01-01/0.png"}}, "<attempt>.png"),
    ({"output": {"bucket": BUCKET, "key": "runs/r/shots/s01-01/x/1.png"}}, "<attempt>.png"),
    ({"output": {"bucket": BUCKET, "key": "runs/r/other/s01-01/1.png"}}, "<attempt>.png"),
    ({"output": {"bucket": BUCKET, "key": "index.png"}}, "<attempt>.png"),
    # the endpoint's bucket only
    ({"output": {"bucket": "someone-elses", "key": KEY}},
     "writes only to its own bucket (R2_BUCKET), not to 'someone-elses'"),
    # the worker's own limits (draft: 50 steps is the contract's bound; pixels fit)
]


@pytest.mark.parametrize("change, message", BAD_INPUTS)
def test_bad_input_is_refused_and_nothing_is_uploaded(worker_env, s3, change, message):
    payload = job_input(s3.bucket, **change)
    if "output" in change and isinstance(change["output"], dict):
        payload["output"] = {**change["output"],
                             "bucket": change["output"]["bucket"].replace(BUCKET, s3.bucket)}
    output = run_job({"id": "bad", "input": payload})
    assert set(output) == {"error"}
    assert output["error"].startswith(f"{INVALID_INPUT}: ")
    assert message in output["error"]
    assert s3.list_objects_v2(Bucket=s3.bucket).get("KeyCount", 0) == 0


@pytest.mark.parametrize("raw", [None, [], "shot", {"input": {}}])
def test_input_that_is_not_a_shot_object_is_refused(raw):
    with pytest.raises(InvalidInput):
        parse_input(raw)


def test_an_existing_object_is_never_overwritten(worker_env, s3):
    s3.put_object(Bucket=s3.bucket, Key=KEY, Body=b"earlier image")
    output = run_job({"id": "again", "input": job_input(s3.bucket)})
    assert output == {"error": f"{s3.bucket}/{KEY} already exists: the worker never "
                               "overwrites an image (a new attempt writes a new key)"}
    assert s3.get_object(Bucket=s3.bucket, Key=KEY)["Body"].read() == b"earlier image"


def test_the_same_job_twice_writes_once(worker_env, s3):
    first = run_job({"id": "j1", "input": job_input(s3.bucket)})
    stored = s3.get_object(Bucket=s3.bucket, Key=KEY)["Body"].read()
    second = run_job({"id": "j1", "input": job_input(s3.bucket)})  # RunPod delivered it again
    assert "image" in first and "already exists" in second["error"]
    assert s3.get_object(Bucket=s3.bucket, Key=KEY)["Body"].read() == stored


def test_a_bucket_r2_does_not_have_is_a_configuration_error(worker_env, monkeypatch):
    monkeypatch.setenv("R2_BUCKET", "no-such-bucket")
    worker_handler.reset()
    output = run_job({"id": "x", "input": job_input("no-such-bucket")})
    assert output == {"error": "worker misconfigured: R2 refused the upload (upload to "
                               f"no-such-bucket/{KEY} failed: NoSuchBucket); check R2_BUCKET "
                               "and the R2 token in the endpoint's environment"}


def test_missing_credentials_are_named():
    with pytest.raises(UploadError) as caught:
        S3Uploader.from_env({"R2_ACCOUNT_ID": "abc"})
    message = str(caught.value)
    assert all(name in message for name in ("R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY",
                                            "R2_BUCKET"))
    assert "R2_ENDPOINT_URL" not in message


@pytest.mark.parametrize("key", [KEY, "a.png", "runs/r-1/shots/s_1/10.png", "../x.png",
                                 "/x.png", "a//b.png", "a/.hidden.png", "a\\b.png", "",
                                 "é.png", "a/b c.png"])
def test_key_rules_match_the_core_stores(key):
    try:
        core_check_key(key)
        core_ok = True
    except StorageError:
        core_ok = False
    try:
        check_key(key)
        worker_ok = True
    except InvalidInput:
        worker_ok = False
    assert worker_ok == core_ok


def test_what_the_renderer_sends_the_worker_accepts():
    from app.core.models import Shot

    assert (core_renderer.SIDE_MULTIPLE, core_renderer.MIN_SIDE, core_renderer.MAX_SIDE) == (
        worker_handler.SIDE_MULTIPLE, worker_handler.MIN_SIDE, worker_handler.MAX_SIDE)
    assert core_renderer.INVALID_INPUT == INVALID_INPUT
    for width, height in [(1024, 576), (1000, 700), (64, 4096), (1920, 1080)]:
        shot = Shot(run_id="r1", shot_id="s01-01", scene=1, index=1, number="1A",
                    shot_type=ShotType.WIDE, description="d", prompt="p", seed=2**31 - 1)
        request = RenderRequest(shot=shot, scene_heading="H", attempt=3, width=width,
                                height=height)
        parsed = parse_input(core_renderer.shot_job_input(request, bucket=BUCKET))
        assert parsed.key == "runs/r1/shots/s01-01/3.png"


def test_draft_reads_the_shot_back_from_the_prompt():
    spec = panel_spec("close-up shot, camera dolly in. interior, kitchen, day. Mara reads.",
                      width=512, height=288, seed=1)
    assert (spec.shot_type, spec.camera) == ("CU", "dolly in")
    assert spec.description == "interior, kitchen, day. Mara reads."
    plain = panel_spec("A cat on a wall.", width=512, height=288, seed=1)
    assert plain.shot_type == "" and plain.description == "A cat on a wall."
    assert panel_spec("extreme close-up shot, camera static. x", width=256, height=256,
                      seed=1).shot_type == "ECU"


def test_importing_the_handler_needs_neither_runpod_nor_torch():
    code = ("import sys, app.worker.handler, app.worker.draft; "
            "assert 'runpod' not in sys.modules and 'torch' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
