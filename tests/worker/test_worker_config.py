"""The worker's start (configuration checked before the model loads; a misconfigured
worker serves and fails each job), GPU errors (``refresh_worker``), the card's limits,
and the async handler's GPU lock, with fake backends and moto standing in for R2."""

from __future__ import annotations

import asyncio
import threading

import pytest
from PIL import Image

from app.core.renderers.runpod import WORKER_MISCONFIGURED as DESKTOP_MISCONFIGURED
from app.core.renderers.runpod import _job_error
from app.core.runpod import Job, JobStatus
from app.worker.handler import (
    GPU_ERROR,
    INVALID_INPUT,
    WORKER_MISCONFIGURED,
    RefusingWorker,
    ShotWorker,
    WorkerConfigError,
    build_worker,
    is_device_error,
)
from app.worker.limits import DRAFT, Limits, limits_for
from app.worker.upload import S3Uploader

KEY = "runs/20261127-120000-abcdef/shots/s01-01/1.png"


def job(bucket: str, key: str = KEY, **changes) -> dict:
    payload = {"task": "shot", "prompt": "wide shot, camera static. a harbour at dawn.",
               "width": 512, "height": 288, "seed": 5, "steps": 4, "guidance": 0.0,
               "output": {"bucket": bucket, "key": key}}
    payload.update(changes)
    return {"id": f"job-{key}", "input": payload}


def key(n: int) -> str:
    return f"runs/20261127-120000-abcdef/shots/s01-{n:02d}/1.png"


class FakeBackend:
    """Renders a flat image; ``fail`` is raised by the next render instead."""

    name = "fake"
    model = "fake-model"
    load_s = 0.0

    def __init__(self, limits: Limits = DRAFT) -> None:
        self.limits = limits
        self.fail: Exception | None = None
        self.renders = 0
        self.recovered = 0

    def render(self, *, prompt, negative_prompt, width, height, seed, steps, guidance):
        self.renders += 1
        if self.fail is not None:
            raise self.fail
        return Image.new("RGB", (width, height), (seed % 256, 90, 140))

    def recover(self) -> None:
        self.recovered += 1


def never_load(name, env):
    raise AssertionError("the model must not load when the configuration is wrong")


def env_for(s3, **changes) -> dict[str, str]:
    env = {"R2_ENDPOINT_URL": s3.meta.endpoint_url, "R2_ACCESS_KEY_ID": "test",
           "R2_SECRET_ACCESS_KEY": "test", "R2_BUCKET": s3.bucket,
           "STORYREEL_WORKER_BACKEND": "draft"}
    env.update(changes)
    return {k: v for k, v in env.items() if v is not None}


# Configuration: checked first, then every job fails saying what is missing.

MISCONFIGURED = [
    ({"R2_BUCKET": None}, "set R2_BUCKET in the endpoint's environment"),
    ({"R2_ENDPOINT_URL": None, "R2_SECRET_ACCESS_KEY": " "},
     "set R2_ENDPOINT_URL or R2_ACCOUNT_ID, R2_SECRET_ACCESS_KEY in the endpoint's"),
    ({"R2_BUCKET": "My_Bucket"}, "R2_BUCKET 'My_Bucket' is not a valid bucket name"),
    ({"STORYREEL_WORKER_BACKEND": "tpu"},
     "STORYREEL_WORKER_BACKEND must be one of gpu, draft, not 'tpu'"),
    ({"STORYREEL_WORKER_CONCURRENCY": "9"},
     "STORYREEL_WORKER_CONCURRENCY must be a whole number from 1 to 4, not '9'"),
    ({"STORYREEL_WORKER_BACKEND": "gpu", "STORYREEL_MODEL_PATH": "/nonexistent/flux"},
     "no weights for black-forest-labs/FLUX.1-schnell: /nonexistent/flux has no "
     "model_index.json and RunPod's model cache has no /runpod-volume/huggingface-cache/"
     "hub/models--black-forest-labs--FLUX.1-schnell"),
]


@pytest.mark.parametrize("changes, message", MISCONFIGURED)
def test_a_misconfigured_worker_fails_each_job_saying_what_is_missing(s3, changes, message):
    worker = build_worker(env_for(s3, **changes), never_load)
    assert isinstance(worker, RefusingWorker)
    answer = asyncio.run(worker.run(job(s3.bucket)))
    assert set(answer) == {"error"}  # no refresh: a new worker would be as misconfigured
    assert answer["error"].startswith(f"{WORKER_MISCONFIGURED}: ")
    assert message in answer["error"]
    assert worker.concurrency_modifier(2) == 1
    assert s3.list_objects_v2(Bucket=s3.bucket).get("KeyCount", 0) == 0


def test_every_problem_is_named_at_once(s3):
    worker = build_worker({"STORYREEL_WORKER_BACKEND": "gpu",
                           "STORYREEL_MODEL_PATH": "/nonexistent"}, never_load)
    message = worker.handle(job(s3.bucket))["error"]
    assert "R2_ACCESS_KEY_ID" in message and "R2_BUCKET" in message and "no weights" in message


def test_secrets_never_reach_the_message(s3):
    secret = "r2-secret-never-shown"
    worker = build_worker(env_for(s3, R2_SECRET_ACCESS_KEY=secret, R2_BUCKET="Bad_Bucket"),
                          never_load)
    assert secret not in worker.handle(job(s3.bucket))["error"]


def test_a_backend_that_finds_no_gpu_is_a_configuration_error(s3):
    def no_gpu(name, env):
        raise WorkerConfigError("no CUDA GPU is visible to the worker (driver 535.104, CUDA "
                                "12.2; torch is built for CUDA 12.8)")

    answer = build_worker(env_for(s3), no_gpu).handle(job(s3.bucket))
    assert answer == {"error": f"{WORKER_MISCONFIGURED}: no CUDA GPU is visible to the worker "
                               "(driver 535.104, CUDA 12.2; torch is built for CUDA 12.8)"}


def test_a_load_that_fails_is_reported_not_raised(s3):
    def broken_files(name, env):
        raise OSError("transformer/diffusion_pytorch_model-00002-of-00003.safetensors: "
                      "truncated")

    answer = build_worker(env_for(s3), broken_files).handle(job(s3.bucket))
    assert answer["error"].startswith(f"{WORKER_MISCONFIGURED}: the model could not be loaded "
                                      "(OSError: transformer/")
    assert "refresh_worker" not in answer


def test_a_gpu_error_while_loading_asks_for_another_worker(s3):
    def bad_gpu(name, env):
        raise RuntimeError("CUDA error: uncorrectable ECC error encountered")

    answer = build_worker(env_for(s3), bad_gpu).handle(job(s3.bucket))
    assert answer["refresh_worker"] is True
    assert answer["error"].startswith(f"{GPU_ERROR} while loading the model (RuntimeError: "
                                      "CUDA error: uncorrectable ECC")


def test_a_good_configuration_builds_a_serving_worker(s3):
    worker = build_worker(env_for(s3, STORYREEL_WORKER_CONCURRENCY="3",
                                  RUNPOD_ENDPOINT_ID="ep-1"))
    assert isinstance(worker, ShotWorker)
    assert (worker.endpoint, worker.concurrency_modifier(1)) == ("ep-1", 3)
    assert "image" in worker.handle(job(s3.bucket))
    assert build_worker(env_for(s3)).concurrency_modifier(1) == 2  # the default


# GPU errors: the cache is freed and RunPod is asked for another worker.


class OutOfMemoryError(RuntimeError):
    """Named as torch.cuda.OutOfMemoryError is."""


@pytest.mark.parametrize("error", [
    OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.64 GiB total "
                     "capacity; 21.90 GiB already allocated)"),
    RuntimeError("CUDA error: an illegal memory access was encountered\nCUDA kernel errors "
                 "might be asynchronously reported"),
    RuntimeError("CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasGemmEx`"),
])
def test_a_gpu_error_frees_the_cache_and_refreshes_the_worker(s3, error):
    backend = FakeBackend()
    worker = ShotWorker(backend, S3Uploader(s3, bucket=s3.bucket))
    backend.fail = error
    answer = asyncio.run(worker.run(job(s3.bucket)))
    assert answer["refresh_worker"] is True
    assert answer["error"].startswith(f"{GPU_ERROR} on this worker ({type(error).__name__}: ")
    assert backend.recovered == 1
    assert worker.concurrency_modifier(2) == 1  # take no more jobs

    backend.fail = None  # even if the GPU seemed to work again: not on this worker
    again = asyncio.run(worker.run(job(s3.bucket, key(2))))
    assert again["refresh_worker"] is True and "earlier on this worker" in again["error"]
    assert backend.renders == 1
    assert s3.list_objects_v2(Bucket=s3.bucket).get("KeyCount", 0) == 0


def test_another_render_error_fails_the_job_only(s3):
    backend = FakeBackend()
    worker = ShotWorker(backend, S3Uploader(s3, bucket=s3.bucket))
    backend.fail = ValueError("the scheduler got 0 timesteps")
    answer = worker.handle(job(s3.bucket))
    assert answer == {"error": "render failed: ValueError: the scheduler got 0 timesteps"}
    backend.fail = None
    assert "image" in worker.handle(job(s3.bucket, key(2)))
    assert backend.recovered == 0


def test_device_errors_are_told_from_others():
    assert is_device_error(OutOfMemoryError("anything"))
    assert is_device_error(RuntimeError("CUDA error: device-side assert triggered"))
    assert not is_device_error(RuntimeError("Expected all tensors to be on the same device"))
    assert not is_device_error(ValueError("height must be divisible by 16"))


# The card's limits.


def test_jobs_over_the_cards_limits_are_refused_before_rendering(s3):
    backend = FakeBackend(limits_for(24.0, offloaded=True, card="NVIDIA L4"))
    worker = ShotWorker(backend, S3Uploader(s3, bucket=s3.bucket))
    assert "image" in worker.handle(job(s3.bucket, width=1024, height=1024))
    big = worker.handle(job(s3.bucket, key(2), width=1280, height=1024))
    assert big == {"error": f"{INVALID_INPUT}: 1280x1024 is 1.31 MP; this worker (NVIDIA L4, "
                            "24 GiB, offloaded) renders at most 1.05 MP"}
    slow = worker.handle(job(s3.bucket, key(3), steps=9))
    assert slow["error"].startswith(f"{INVALID_INPUT}: steps 9 is more than this worker")
    assert backend.renders == 1


def test_limits_grow_with_the_card():
    small, large = limits_for(24.0, offloaded=False), limits_for(80.0, offloaded=False)
    offloaded = limits_for(80.0, offloaded=True)
    assert offloaded.max_pixels < small.max_pixels < large.max_pixels == 2048 * 2048
    assert offloaded.max_steps <= small.max_steps < large.max_steps
    assert large.check(2048, 2048, 16) is None and small.check(1536, 1536, 8) is None


# The async handler: one render at a time, each upload overlapping the next render.


class RecordingBackend(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.most_inside = 0
        self.started: dict[int, threading.Event] = {}
        self._count = threading.Lock()

    def render(self, **kwargs):
        with self._count:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.started.setdefault(kwargs["seed"], threading.Event()).set()
        try:
            return super().render(**kwargs)
        finally:
            with self._count:
                self.inside -= 1


class WaitingUploader(S3Uploader):
    """Holds the upload of seed 1 until the render of seed 2 has begun."""

    def __init__(self, client, bucket: str, backend: RecordingBackend) -> None:
        super().__init__(client, bucket=bucket)
        self.backend = backend
        self.overlapped: bool | None = None

    def put(self, bucket, key, data, *, metadata):
        if metadata["seed"] == "1":
            began = self.backend.started.setdefault(2, threading.Event())
            self.overlapped = began.wait(timeout=20)
        super().put(bucket, key, data, metadata=metadata)


def test_renders_take_turns_and_an_upload_overlaps_the_next_render(s3):
    backend = RecordingBackend()
    uploader = WaitingUploader(s3, s3.bucket, backend)
    worker = ShotWorker(backend, uploader)

    async def two_jobs():
        return await asyncio.gather(worker.run(job(s3.bucket, key(1), seed=1)),
                                    worker.run(job(s3.bucket, key(2), seed=2)))

    first, second = asyncio.run(two_jobs())
    assert "image" in first and "image" in second
    assert uploader.overlapped is True  # seed 2 rendered while seed 1 was uploading
    assert backend.most_inside == 1  # never two renders at once


def test_a_job_stopped_while_waiting_for_the_gpu_never_renders(s3):
    backend = FakeBackend()
    worker = ShotWorker(backend, S3Uploader(s3, bucket=s3.bucket))

    async def stop_the_second():
        async with worker._gpu:  # a render in progress
            waiting = asyncio.create_task(worker.run(job(s3.bucket, key(2))))
            await asyncio.sleep(0)
            waiting.cancel()  # what runpod does with a cancelled job's task
            with pytest.raises(asyncio.CancelledError):
                await waiting

    asyncio.run(stop_the_second())
    assert backend.renders == 0


# What the desktop makes of the worker's failures.


def test_the_desktop_shows_a_misconfigured_worker_as_such_and_does_not_retry():
    assert DESKTOP_MISCONFIGURED == WORKER_MISCONFIGURED
    failed = Job(id="j-1", status=JobStatus.FAILED, execution_ms=120,
                 error=f"{WORKER_MISCONFIGURED}: set R2_BUCKET in the endpoint's environment")
    error = _job_error(failed)
    assert error.retryable is False
    assert str(error) == ("The RunPod shot endpoint is misconfigured: set R2_BUCKET in the "
                          "endpoint's environment. Fix the endpoint's settings in the RunPod "
                          "console (retrying will not help)")
    gpu = Job(id="j-2", status=JobStatus.FAILED,
              error=f"{GPU_ERROR} on this worker (OutOfMemoryError: CUDA out of memory)")
    assert _job_error(gpu).retryable is True  # another worker takes the next attempt


class HeldBackend(FakeBackend):
    """Its renders wait for ``release``; ``rendering`` tells when one has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.rendering = threading.Event()
        self.finished: list[int] = []
        self.begun: list[int] = []

    def render(self, **kwargs):
        self.begun.append(kwargs["seed"])
        self.rendering.set()
        self.release.wait(timeout=20)
        image = super().render(**kwargs)
        self.finished.append(kwargs["seed"])
        return image


def test_a_job_stopped_mid_render_keeps_the_gpu_until_its_render_ends(s3):
    backend = HeldBackend()
    worker = ShotWorker(backend, S3Uploader(s3, bucket=s3.bucket))

    async def stop_the_first():
        first = asyncio.create_task(worker.run(job(s3.bucket, key(1), seed=1)))
        await asyncio.to_thread(backend.rendering.wait, 20)
        first.cancel()  # runpod stops the job; its render thread goes on
        second = asyncio.create_task(worker.run(job(s3.bucket, key(2), seed=2)))
        for _ in range(50):  # give a second render every chance to begin (it must not)
            if len(backend.begun) > 1:
                break
            await asyncio.sleep(0.02)
        begun_while_held = list(backend.begun)
        backend.release.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        return begun_while_held, await second

    begun_while_held, second = asyncio.run(stop_the_first())
    assert begun_while_held == [1]  # the second render waited for the first to end
    assert backend.finished == [1, 2] and "image" in second
    assert s3.list_objects_v2(Bucket=s3.bucket)["KeyCount"] == 1  # the stopped job uploads nothing
