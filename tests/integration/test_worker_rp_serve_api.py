"""The shot worker under runpod's OWN local API server (``--rp_serve_api``), draft backend,
with moto standing in for R2.

runpod's SDK cannot live in the project's venv (it needs boto3 >= 1.43, aioboto3 pins
1.40), so the worker runs with the interpreter of ``.venv-worker`` that ``make test``
builds and names in ``STORYREEL_WORKER_PYTHON``. The job inputs are made by the
desktop's own ``shot_job_input``, so this also proves the two sides agree.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from app.core.models import Shot, ShotType
from app.core.renderers import RenderRequest
from app.core.renderers.runpod import shot_job_input
from tests.integration.support import REPO, MotoS3, png_size, wait_for

WORKER_PYTHON = os.environ.get("STORYREEL_WORKER_PYTHON")
pytestmark = pytest.mark.skipif(
    not WORKER_PYTHON,
    reason="STORYREEL_WORKER_PYTHON is not set: the worker needs runpod's SDK in its own venv; "
           "run `make test` (it builds .venv-worker and sets the variable)")

RUN_ID = "20261127-120000-abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict, timeout: float = 60.0) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.load(answer)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def bucket(s3: MotoS3) -> str:
    return s3.new_bucket()


@pytest.fixture(scope="module")
def worker(s3: MotoS3, bucket: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One worker process serving runpod's local API for the module; yields its base URL."""
    assert WORKER_PYTHON is not None
    tmp_path = tmp_path_factory.mktemp("worker")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "RUNPOD_"))}
    env.update({
        "PYTHONPATH": str(REPO),
        "STORYREEL_WORKER_BACKEND": "draft",
        **s3.r2_env(bucket),
    })
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [WORKER_PYTHON, "-u", "-m", "app.worker.handler", "--rp_serve_api",
             "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or answers(f"{base}/docs"),
                 "runpod's local API server to answer", limit_s=120)
        assert process.poll() is None, log.read_text()
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        with contextlib.suppress(OSError):
            print(log.read_text())  # shown by pytest when the test failed


def job_input(bucket: str, shot_id: str, *, width: int = 640, height: int = 360,
              seed: int = 11) -> dict:
    shot = Shot(run_id=RUN_ID, shot_id=shot_id, scene=1, index=1, number="1A",
                shot_type=ShotType.WIDE, camera="pan left", description="A harbour at dawn.",
                prompt="wide shot, camera pan left. exterior, harbour, dawn. Boats at anchor.",
                seed=seed, attempts=1)
    request = RenderRequest(shot=shot, scene_heading="EXT. HARBOUR - DAWN", attempt=1,
                            width=width, height=height, negative_prompt="text, watermark")
    return shot_job_input(request, bucket=bucket)


def test_the_worker_renders_uploads_and_answers_the_contract(worker, s3, bucket):
    payload = job_input(bucket, "s01-01")
    key = payload["output"]["key"]

    answer = post(f"{worker}/runsync", {"input": payload})

    assert answer["status"] == "COMPLETED", answer
    output = answer["output"]
    image = output["image"]
    assert (image["bucket"], image["key"]) == (bucket, key)
    assert (image["width"], image["height"], image["seed"]) == (640, 368, 11)  # 360 -> 368
    assert image["mime"] == "image/png"
    assert set(output["timings"]) == {"load_s", "render_s", "encode_s", "upload_s"}
    assert output["model"] == "storyreel-draft-panel-1"
    data = s3.get(bucket, key)  # the worker uploaded it itself; the answer holds no bytes
    assert hashlib.sha256(data).hexdigest() == image["sha256"]
    assert len(data) == image["bytes"]
    assert png_size(data) == (640, 368)
    head = s3.client.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "image/png"
    assert head["Metadata"]["sha256"] == image["sha256"]


def test_run_then_status_runs_the_job_and_bad_input_is_refused(worker, s3, bucket):
    # /run then /status: the local server runs the job inside the status call.
    queued = post(f"{worker}/run", {"input": job_input(bucket, "s01-02", seed=12)})
    assert queued["status"] == "IN_PROGRESS" and queued["id"]
    done = post(f"{worker}/status/{queued['id']}", {})
    assert done["status"] == "COMPLETED", done
    key = done["output"]["image"]["key"]
    assert hashlib.sha256(s3.get(bucket, key)).hexdigest() == done["output"]["image"]["sha256"]

    bad = job_input(bucket, "s01-03")
    bad["width"] = 500  # not a multiple of 16
    refused = post(f"{worker}/runsync", {"input": bad})
    assert refused["status"] == "FAILED", refused
    assert refused["error"].startswith("invalid shot input: width must be a multiple of 16")
    assert "output" not in refused

    escaping = job_input(bucket, "s01-04")
    escaping["output"]["key"] = "../../etc/evil.png"
    refused = post(f"{worker}/runsync", {"input": escaping})
    assert refused["status"] == "FAILED" and refused["error"].startswith("invalid shot input")

    elsewhere = job_input(bucket, "s01-05")
    elsewhere["output"]["bucket"] = "someone-elses-bucket"
    refused = post(f"{worker}/runsync", {"input": elsewhere})
    assert refused["status"] == "FAILED"
    assert refused["error"] == ("invalid shot input: this worker writes only to its own bucket "
                                "(R2_BUCKET), not to 'someone-elses-bucket'")

    for refused_shot in ("s01-03", "s01-04", "s01-05"):  # refused: nothing stored
        assert s3.keys(bucket, f"runs/{RUN_ID}/shots/{refused_shot}/") == []
    assert s3.keys(bucket, "etc/") == [] and s3.keys(bucket, "../") == []
