"""What the end-to-end tests share: CLI processes, a moto S3 server standing in for R2,
and the fake RunPod cloud API served from a background thread with its own event loop.

The CLI under test is another process, so the fake cannot live on the test's event
loop: ``BackgroundRunPod`` runs ``tests.fakes.runpod_server.FakeRunPod`` on a thread
of its own. Everything that reads or steers the fake goes through ``call`` so that
it runs on that thread (the fake advances jobs, and runs their handlers, whenever it
is looked at; two threads looking at once could finish a job twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer
from PIL import Image

from app.worker.draft import DraftBackend
from app.worker.handler import ShotWorker
from app.worker.upload import S3Uploader
from tests.fakes.chat import PLAN, SCRIPT, FakeLLM
from tests.fakes.runpod_server import FakeJobFailure, FakeRunPod, JobPlan, vllm_handler

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")

WRITER_ENDPOINT = "writer-vllm"
SHOT_ENDPOINT = "shots-flux"
S3_ACCESS_KEY = "integration-access-key"
S3_SECRET_KEY = "integration-secret-never-shown"
RUNPOD_KEY = "rp-integration-key-never-shown"
CLI_TIMEOUT_S = 180.0  # one CLI process, on a loaded two-core machine


# The command line, as a real process.


def storyreel(*args: str, env: dict[str, str] | None = None,
              timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``storyreel ARGS`` in the background; stderr (progress) is read line by line."""
    return subprocess.Popen([sys.executable, "-m", "app", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})


@contextlib.contextmanager
def reaped(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Whatever happens in the test, the child does not outlive it."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(Exception):
            process.communicate(timeout=30)


def read_stderr_until(process: subprocess.Popen, match: Callable[[str], bool],
                      seen: list[str]) -> str:
    """Read progress lines until one matches; fail if the process ends first."""
    assert process.stderr is not None
    for line in process.stderr:
        seen.append(line)
        if match(line):
            return line
    raise AssertionError("the process ended before the expected progress line:\n"
                         + "".join(seen))


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def one_run(result: subprocess.CompletedProcess) -> dict:
    lines = json_lines(result.stdout)
    assert len(lines) == 1, (result.returncode, result.stdout, result.stderr)
    return lines[0]


def show(run_id: str, env: dict[str, str] | None = None) -> dict:
    result = storyreel("show", run_id, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return one_run(result)


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def png_size(data: bytes) -> tuple[int, int]:
    """The size of a valid PNG (``verify`` reads every chunk and its CRC)."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        image.verify()
        return image.size


def wait_for(condition: Callable[[], Any], what: str, *, limit_s: float = 90.0,
             step_s: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something true; fail after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(step_s)


# R2, played by moto's S3 server.


class MotoS3:
    """moto's S3 server on 127.0.0.1 and a boto3 client for it. Each test takes a
    bucket of its own (moto keeps one global state per process)."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""
        self.client: Any = None

    def start(self) -> MotoS3:
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="auto",
            aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=S3_SECRET_KEY,
            config=Config(request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))
        return self

    def stop(self) -> None:
        self.server.stop()

    def new_bucket(self) -> str:
        name = f"reel-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name,
                                  CreateBucketConfiguration={"LocationConstraint": "auto"})
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                      Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def get(self, bucket: str, key: str) -> bytes:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def r2_env(self, bucket: str) -> dict[str, str]:
        """The four R2 variables, as a person would put them in ``.env``."""
        return {"R2_ENDPOINT_URL": self.endpoint, "R2_ACCESS_KEY_ID": S3_ACCESS_KEY,
                "R2_SECRET_ACCESS_KEY": S3_SECRET_KEY, "R2_BUCKET": bucket}


# The RunPod cloud API, played by the fake on a thread of its own.


class BackgroundRunPod:
    """``FakeRunPod`` served from a background thread with its own event loop."""

    def __init__(self, fake: FakeRunPod | None = None) -> None:
        self.fake = fake or FakeRunPod(api_key=RUNPOD_KEY)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> BackgroundRunPod:
        started: Future[None] = Future()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.fake.start())
            except BaseException as exc:  # reported to start()
                started.set_exception(exc)
                loop.close()
                return
            started.set_result(None)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.fake.close())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=serve, name="fake-runpod", daemon=True)
        self._thread.start()
        started.result(timeout=30)
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the fake RunPod thread did not stop"
        self._thread = None

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``fn()`` on the fake's thread and return its result."""
        assert self._loop is not None

        async def on_loop() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(on_loop(), self._loop).result(timeout)

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    def env(self, api_key: str | None = None) -> dict[str, str]:
        """The RunPod variables pointing the writer and the renderer at this fake."""
        return {"RUNPOD_API_KEY": api_key or self.fake.api_key,
                "RUNPOD_ENDPOINT_BASE_URL": self.base_url,
                "RUNPOD_WRITER_ENDPOINT": WRITER_ENDPOINT,
                "RUNPOD_SHOT_ENDPOINT": SHOT_ENDPOINT}

    # Reading the fake (always on its thread).

    def shot_jobs(self) -> list[dict[str, Any]]:
        """Every shot job submitted so far, in order: id, key, status, status reads, whether
        it is held IN_PROGRESS, and its executionTime."""

        def read() -> list[dict[str, Any]]:
            out = []
            for job in self.fake.submissions:
                if job.endpoint != SHOT_ENDPOINT:
                    continue
                if job.id in self.fake.jobs:
                    self.fake._advance(job)
                out.append({"id": job.id, "key": job.input["output"]["key"],
                            "status": job.status, "reads": job.status_reads,
                            "held": job.plan.hold and job.released_at is None,
                            "execution_ms": _execution_ms(job)})
            return out

        return self.call(read)

    def unfinished(self) -> list[str]:
        return self.call(lambda: [j.id for j in self.fake.running()])

    def cancels(self) -> list[str]:
        return self.call(lambda: list(self.fake.cancels))


def _execution_ms(job: Any) -> int | None:
    if job.finished_at is None or job.started_at is None:
        return None
    return int((job.finished_at - job.started_at) * 1000)


def shot_of(key: str) -> tuple[str, int]:
    """``runs/<run>/shots/<shot>/<attempt>.png`` -> (shot id, attempt)."""
    parts = key.split("/")
    return parts[3], int(parts[4].removesuffix(".png"))


def endpoint_worker(s3: MotoS3, bucket: str) -> Callable[[Any], Any]:
    """The shot endpoint's handler: the real worker (``ShotWorker.handle``, draft backend)
    uploading to moto with the endpoint's own credentials. A returned ``{"error"}`` fails
    the job, as RunPod does."""
    uploader = S3Uploader.from_env({"R2_ENDPOINT_URL": s3.endpoint,
                                    "R2_ACCESS_KEY_ID": S3_ACCESS_KEY,
                                    "R2_SECRET_ACCESS_KEY": S3_SECRET_KEY,
                                    "R2_BUCKET": bucket})
    worker = ShotWorker(DraftBackend(), uploader)
    ids = itertools.count(1)

    def handle(job_input: Any) -> Any:
        output = worker.handle({"id": f"fake-{next(ids)}", "input": job_input})
        if "error" in output:
            raise FakeJobFailure(output["error"])
        return output

    return handle


class StoryLLM(FakeLLM):
    """FakeLLM answering the scene plan with ``scenes`` scenes of ``shots`` shots each
    (its own plan has three shots in all, too few to stop a run half way)."""

    def __init__(self, scenes: int = 2, shots: int = 3) -> None:
        super().__init__()
        self.scenes, self.shots = scenes, shots

    def default_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = FakeLLM.default_answer(body)
        if answer is SCRIPT:
            return SCRIPT
        template = [shot for scene in PLAN["scenes"] for shot in scene["shots"]]
        scenes = []
        for n in range(self.scenes):
            base = PLAN["scenes"][n % len(PLAN["scenes"])]
            shots = [dict(template[(n + i) % len(template)],
                          description=f"{template[(n + i) % len(template)]['description']} "
                                      f"(beat {n + 1}.{i + 1})")
                     for i in range(self.shots)]
            scenes.append({**base, "heading": f"{base['heading']} {n + 1}", "shots": shots})
        return {"scenes": scenes}


def writer_handler(scenes: int = 2, shots: int = 3) -> Callable[[Any], Any]:
    return vllm_handler(StoryLLM(scenes, shots))


def hold_shot_jobs_after(runpod: Any, done: int = 2) -> dict[str, Any]:
    """Let the first ``done`` shot jobs finish at once and hold every later one IN_PROGRESS
    while the returned ``state["hold"]`` is true (writer jobs are never held)."""
    state: dict[str, Any] = {"shot_jobs": 0, "hold": True}

    def plan(endpoint: str, job_input: Any, n: int) -> JobPlan:
        if endpoint != SHOT_ENDPOINT:
            return JobPlan()
        state["shot_jobs"] += 1
        if state["shot_jobs"] > done and state["hold"]:
            return JobPlan(hold=True)
        return JobPlan(run_s=0.05)

    runpod.call(lambda: setattr(runpod.fake, "plan_for", plan))
    return state


def held_shot_jobs(runpod: Any, n: int = 2) -> list[dict]:
    """Wait until ``n`` held shot jobs are being polled (so their ids are in history, which
    the renderer writes before it polls), and return them."""
    def in_flight() -> list[dict]:
        held = [j for j in runpod.shot_jobs() if j["held"] and j["reads"] >= 1]
        return held if len(held) == n else []

    return wait_for(in_flight, f"{n} shot jobs in flight")


def long_idea(folder: Path) -> Path:
    """A six-paragraph prose idea (six scenes for the draft writer), long enough for a run
    to be caught in the middle."""
    idea = folder / "long.txt"
    idea.write_text("\n\n".join(
        f"In scene {n} Mara walks along the harbour with a lantern. She watches the boats. "
        f"Theo follows her through the market." for n in range(6)))
    return idea
