"""The worker under runpod's OWN production job loop (``runpod.serverless.start`` without
``--rp_serve_api``): the SDK takes jobs from ``RUNPOD_WEBHOOK_GET_JOB`` and posts results
to ``RUNPOD_WEBHOOK_POST_OUTPUT``, here a small fake of that worker-side API on 127.0.0.1.
This is the path a RunPod endpoint runs: fitness checks (the GPU and system ones skipped
through runpod's own switches), the job scaler with our concurrency modifier, the async
handler, and ``refresh_worker`` becoming ``stopPod``.

The worker runs with ``.venv-worker``'s interpreter (``STORYREEL_WORKER_PYTHON``, set by
``make test``); moto stands in for R2.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.integration.support import REPO, MotoS3, wait_for

WORKER_PYTHON = os.environ.get("STORYREEL_WORKER_PYTHON")
pytestmark = pytest.mark.skipif(
    not WORKER_PYTHON,
    reason="STORYREEL_WORKER_PYTHON is not set: the worker needs runpod's SDK in its own venv; "
           "run `make test` (it builds .venv-worker and sets the variable)")

RUN = "20261127-120000-abcdef"


class JobAPI:
    """The worker-facing half of RunPod's queue: job-take (single and batch), job-stop
    (nothing to stop) and job-done."""

    def __init__(self) -> None:
        self.queue: list[dict] = []
        self.done: dict[str, dict] = {}
        self.batch_sizes: list[int] = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                if path.startswith(("/job-take/", "/job-take-batch/")):
                    batch = path.startswith("/job-take-batch/")
                    with api.lock:
                        wanted = 1
                        if batch:
                            query = dict(p.split("=", 1) for p in
                                         urlparse(self.path).query.split("&") if "=" in p)
                            wanted = int(query.get("batch_size", "1"))
                            api.batch_sizes.append(wanted)
                        jobs, api.queue = api.queue[:wanted], api.queue[wanted:]
                    if not jobs:
                        self.send_response(204)
                        self.end_headers()
                        return
                    body = json.dumps(jobs if batch else jobs[0]).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(204)  # job-stop and anything else: nothing
                self.end_headers()

            def do_POST(self) -> None:
                path = urlparse(self.path).path
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if path.startswith("/job-done/"):
                    job_id = path.rsplit("/", 1)[1]
                    with api.lock:
                        api.done[job_id] = json.loads(body)
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.port}"
        return {"RUNPOD_WEBHOOK_GET_JOB": f"{base}/job-take/$ID?gpu=test",
                "RUNPOD_WEBHOOK_POST_OUTPUT": f"{base}/job-done/$RUNPOD_POD_ID/$ID?gpu=test",
                "RUNPOD_POD_ID": "worker-under-test", "RUNPOD_ENDPOINT_ID": "ep-test",
                "RUNPOD_SKIP_GPU_CHECK": "true", "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true"}

    def submit(self, *jobs: dict) -> None:
        with self.lock:
            self.queue.extend(jobs)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def worker(api: JobAPI, env: dict[str, str], tmp_path: Path,
           command: tuple[str, ...] = ("-m", "app.worker.handler")) -> Iterator[subprocess.Popen]:
    assert WORKER_PYTHON is not None
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "RUNPOD_"))}
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        process = subprocess.Popen([WORKER_PYTHON, "-u", *command], cwd=tmp_path,
                                   env={**clean, "PYTHONPATH": str(REPO), **api.env(), **env},
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()  # SIGTERM: runpod's scaler stops taking jobs and exits
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        print(log.read_text())  # shown by pytest when the test failed


def shot(bucket: str, shot_id: str, **changes) -> dict:
    payload = {"task": "shot", "prompt": "wide shot, camera static. a harbour at dawn.",
               "width": 512, "height": 288, "seed": 3, "steps": 4, "guidance": 0.0,
               "output": {"bucket": bucket, "key": f"runs/{RUN}/shots/{shot_id}/1.png"}}
    payload.update(changes)
    return {"id": f"job-{shot_id}", "input": payload}


def finished(api: JobAPI, *ids: str, process: subprocess.Popen) -> None:
    wait_for(lambda: process.poll() is not None or all(i in api.done for i in ids),
             f"results of {', '.join(ids)}", limit_s=120)
    assert process.poll() is None, "the worker exited"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture
def api() -> Iterator[JobAPI]:
    fake = JobAPI()
    yield fake
    fake.close()


def test_a_misconfigured_worker_serves_and_fails_every_job(api, tmp_path):
    # No R2 settings at all: before, this raised before runpod.serverless.start and the
    # container restarted forever.
    api.submit(shot("storyreel", "s01-01"), shot("storyreel", "s01-02"))
    with worker(api, {"STORYREEL_WORKER_BACKEND": "draft"}, tmp_path) as process:
        finished(api, "job-s01-01", "job-s01-02", process=process)
        for job_id in ("job-s01-01", "job-s01-02"):
            result = api.done[job_id]
            assert set(result) == {"error"}, result
            assert result["error"].startswith(
                "worker misconfigured: set R2_ENDPOINT_URL or R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, "
                "R2_SECRET_ACCESS_KEY, R2_BUCKET in the endpoint's environment")
        assert process.poll() is None  # still serving


def test_jobs_run_two_at_a_time_and_upload_once(api, tmp_path, moto: MotoS3):
    bucket = moto.new_bucket()
    jobs = [shot(bucket, f"s01-{n:02d}", seed=n) for n in range(1, 5)]
    elsewhere = shot("someone-elses", "s02-01")
    api.submit(*jobs, elsewhere)
    with worker(api, {"STORYREEL_WORKER_BACKEND": "draft", **moto.r2_env(bucket)},
                tmp_path) as process:
        finished(api, *(j["id"] for j in jobs), elsewhere["id"], process=process)
        api.submit(shot(bucket, "s01-01", seed=9))  # the first job, delivered again
        api.done.pop("job-s01-01")
        finished(api, "job-s01-01", process=process)
    assert 2 in api.batch_sizes  # the concurrency modifier: two jobs in flight
    for job in jobs[1:]:
        output = api.done[job["id"]]["output"]
        assert output["image"]["key"] == job["input"]["output"]["key"]
        assert moto.keys(bucket, output["image"]["key"]) == [output["image"]["key"]]
    assert "already exists" in api.done["job-s01-01"]["error"]  # not overwritten
    assert api.done[elsewhere["id"]]["error"] == (
        "invalid shot input: this worker writes only to its own bucket (R2_BUCKET), not to "
        "'someone-elses'")


def test_a_cuda_error_asks_runpod_to_replace_the_worker(api, tmp_path, moto: MotoS3):
    bucket = moto.new_bucket()
    api.submit(shot(bucket, "s01-01"))
    launcher = str(Path(__file__).with_name("cuda_failing_worker.py"))
    with worker(api, {"STORYREEL_WORKER_BACKEND": "draft", **moto.r2_env(bucket)}, tmp_path,
                (launcher,)) as process:
        finished(api, "job-s01-01", process=process)
    result = api.done["job-s01-01"]
    assert result["stopPod"] is True  # what runpod's loop makes of refresh_worker
    assert result["error"].startswith("GPU error on this worker (AcceleratorError: CUDA error: "
                                      "an illegal memory access was encountered")
    assert moto.keys(bucket, "runs/") == []
