"""The RunPod renderer: one job per shot on an endpoint running ``app/worker``.

The job input is built by a pure function (``shot_job_input``) exactly as
DESIGN.md's shot worker contract says, plus the optional ``provenance`` object
(run, scene, shot, number, attempt) the worker writes into the PNG; the worker
renders, uploads the PNG to R2 under the requested key and returns where it
put it. This module never touches image bytes.

States map to the pipeline's retry policy: FAILED and TIMED_OUT are
``RenderError(retryable=True)`` (another job may work), CANCELLED and a refused
API key are not. Cancelling the awaiting task cancels the RunPod job. A
request with ``resume_job_id`` polls that job instead of paying for a new one;
only a job RunPod no longer knows (404) is submitted again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from app.core import frame
from app.core.errors import ConfigError, RenderError, StorageError
from app.core.models import ImageRef
from app.core.renderers import RenderRequest, RenderResult
from app.core.runpod import (
    Job,
    JobExpired,
    JobStatus,
    RunPodAuthError,
    RunPodClient,
    RunPodError,
    WaitTimedOut,
    parse_error,
)
from app.core.settings import Settings
from app.core.storage import check_key

log = logging.getLogger(__name__)

# FLUX wants sides in multiples of 16 (diffusers only warns and rounds down); the
# worker refuses anything else, so requests are rounded here, to the nearest.
SIDE_MULTIPLE = 16
MIN_SIDE = 256
MAX_SIDE = 2048
DEFAULT_STEPS = 4  # FLUX.1-schnell
DEFAULT_GUIDANCE = 0.0
# The worker's own validation errors start so: no new job will fix the input.
INVALID_INPUT = "invalid shot input"
# ...and a worker whose endpoint settings are wrong (R2, bucket, model, GPU) fails every job
# with this prefix: a configuration error, not worth another job.
WORKER_MISCONFIGURED = "worker misconfigured"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def fit_side(value: int) -> int:
    """Round a side to the nearest multiple of 16 within the worker's bounds."""
    value = int(value / SIDE_MULTIPLE + 0.5) * SIDE_MULTIPLE  # halves round up
    return max(MIN_SIDE, min(MAX_SIDE, value))


def shot_job_input(
    request: RenderRequest,
    *,
    bucket: str,
    steps: int = DEFAULT_STEPS,
    guidance: float = DEFAULT_GUIDANCE,
) -> dict[str, Any]:
    """The shot worker's job input for ``request`` (DESIGN.md, "Shot worker"), with the
    optional ``provenance`` object the worker writes into the PNG (``app.core.provenance``)."""
    shot = request.shot
    return {
        "task": "shot",
        "prompt": shot.prompt or shot.description,
        "negative_prompt": request.negative_prompt,
        "width": fit_side(request.width),
        "height": fit_side(request.height),
        "seed": shot.seed,
        "steps": steps,
        "guidance": guidance,
        "output": {"bucket": bucket, "key": request.key},
        "provenance": {"run_id": shot.run_id, "scene": shot.scene, "shot_id": shot.shot_id,
                       "shot_number": shot.number, "attempt": request.attempt},
    }


def read_shot_output(output: Any, *, bucket: str, key: str) -> tuple[ImageRef, dict, str]:
    """Check a COMPLETED job's output against the contract: the image, the worker's
    timings and the model name. ``ValueError`` says what is wrong."""
    if not isinstance(output, dict):
        raise ValueError(f"expected an object, got {type(output).__name__}")
    image = output.get("image")
    if not isinstance(image, dict):
        raise ValueError("no 'image' object")
    if image.get("bucket") != bucket or image.get("key") != key:
        raise ValueError(f"the image went to {image.get('bucket')!r}/{image.get('key')!r}, "
                         f"not {bucket!r}/{key!r}")
    try:
        check_key(key)
    except StorageError as exc:
        raise ValueError(str(exc)) from None
    for name in ("width", "height", "seed", "bytes"):
        value = image.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"image.{name} must be a whole number, got {value!r}")
    if image["bytes"] == 0 or image["width"] == 0 or image["height"] == 0:
        raise ValueError("the image is empty")
    sha = image.get("sha256")
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise ValueError("image.sha256 must be 64 lowercase hex digits")
    mime = image.get("mime", "image/png")
    if not isinstance(mime, str) or not mime.startswith("image/"):
        raise ValueError(f"image.mime must be an image type, got {mime!r}")
    raw_timings = output.get("timings")
    if not isinstance(raw_timings, dict):
        raw_timings = {}
    timings = {k: float(v) for k, v in raw_timings.items()
               if isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)}
    model = output.get("model")
    ref = ImageRef(store="r2", bucket=bucket, key=key, width=image["width"],
                   height=image["height"], seed=image["seed"], sha256=sha,
                   bytes=image["bytes"], mime=mime)
    return ref, timings, model if isinstance(model, str) else ""


class RunPodRenderer:
    """``Renderer`` on a RunPod endpoint running the shot worker. Owns ``client``."""

    def __init__(
        self,
        client: RunPodClient,
        endpoint: str,
        *,
        bucket: str,
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        execution_timeout_s: float = 300.0,
        ttl_s: float = 3600.0,
        wait_timeout_s: float | None = None,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.bucket = bucket
        self.steps = steps
        self.guidance = guidance
        self.execution_timeout_s = execution_timeout_s
        self.ttl_s = ttl_s
        self.wait_timeout_s = wait_timeout_s if wait_timeout_s is not None else ttl_s + 60.0
        self.name = f"RunPod {endpoint}"

    def size_for(self, aspect: str) -> tuple[int, int]:
        """Near one megapixel in multiples of 16 (``frame.frame_size``): inside every
        worker's limits (``app.worker.limits``: 1 MP even offloaded), 16:9 is 1360 x 768."""
        return frame.frame_size(aspect)

    def expect_job_seconds(self, seconds: float) -> None:
        """How long a shot job usually takes from submission to its end on this endpoint
        (from history), until this process's own jobs say."""
        self.client.expect(self.endpoint, seconds)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> RunPodRenderer:
        """From ``RUNPOD_API_KEY``, ``RUNPOD_ENDPOINT_BASE_URL``, ``RUNPOD_SHOT_ENDPOINT`` and
        ``R2_BUCKET`` (the worker writes there, with the endpoint's own R2 credentials)."""
        if settings.runpod_api_key is None or not settings.runpod_shot_endpoint:
            raise ConfigError("the RunPod renderer needs RUNPOD_API_KEY and RUNPOD_SHOT_ENDPOINT")
        if not settings.r2_bucket:
            raise ConfigError("RUNPOD_SHOT_ENDPOINT is set but R2 is not: the shot worker "
                              "uploads to R2, so set R2_BUCKET and its credentials too")
        client = RunPodClient(settings.runpod_api_key, base_url=settings.runpod_base_url)
        return cls(client, settings.runpod_shot_endpoint, bucket=settings.r2_bucket, **kwargs)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def render_shot(self, request: RenderRequest) -> RenderResult:
        job = None
        if request.resume_job_id:
            job = await self._resume(request.resume_job_id, request)
        if job is None:
            job = await self._submit_and_wait(request)
        return self._result(job, request)

    async def _resume(self, job_id: str, request: RenderRequest) -> Job | None:
        """The final state of a job an earlier process submitted; None if RunPod forgot it."""
        try:
            return await self._wait(job_id, request)
        except JobExpired:
            log.info("runpod: job %s is no longer known to RunPod; submitting again", job_id)
            return None

    async def _submit_and_wait(self, request: RenderRequest) -> Job:
        payload = shot_job_input(request, bucket=self.bucket, steps=self.steps,
                                 guidance=self.guidance)
        try:
            submitted = await self.client.submit(self.endpoint, payload,
                                                 execution_timeout_s=self.execution_timeout_s,
                                                 ttl_s=self.ttl_s)
        except RunPodError as exc:
            raise _render_error("the shot could not be submitted", exc) from exc
        job_id = submitted.id
        if request.on_job is not None:
            try:
                await request.on_job(job_id)
            except asyncio.CancelledError:
                if not request.keeps_job():
                    await self.client.cancel_quietly(self.endpoint, job_id)
                raise
        try:
            return await self._wait(job_id, request)
        except JobExpired as exc:  # a job we have just submitted: RunPod lost it
            raise RenderError(f"RunPod lost job {job_id} while it ran",
                              retryable=True) from exc

    async def _wait(self, job_id: str, request: RenderRequest) -> Job:
        try:
            return await self.client.wait(self.endpoint, job_id, timeout_s=self.wait_timeout_s)
        except asyncio.CancelledError:
            if request.keeps_job():  # the app is closing and the person kept the cloud jobs
                raise
            await self.client.cancel_quietly(self.endpoint, job_id)
            raise
        except JobExpired:
            raise
        except RunPodError as exc:
            if isinstance(exc, WaitTimedOut):  # don't leave a job running that nobody awaits
                await self.client.cancel_quietly(self.endpoint, job_id)
            raise _render_error(f"job {job_id} could not be followed", exc) from exc

    def _result(self, job: Job, request: RenderRequest) -> RenderResult:
        if job.status is not JobStatus.COMPLETED:
            raise _job_error(job)
        try:
            image, worker_timings, model = read_shot_output(job.output, bucket=self.bucket,
                                                            key=request.key)
        except ValueError as exc:
            raise RenderError(f"job {job.id} returned an output that breaks the shot worker "
                              f"contract: {exc}", retryable=False) from None
        timings = {f"worker_{k}": round(v, 4) for k, v in worker_timings.items()}
        if job.execution_s is not None:
            timings["gpu_s"] = round(job.execution_s, 3)
        if job.delay_s is not None:
            timings["queue_s"] = round(job.delay_s, 3)
        return RenderResult(image=image, timings=timings, job_id=job.id, model=model)


def _job_error(job: Job) -> RenderError:
    detail = parse_error(job.error)[0]
    billed = round(job.execution_s or 0.0, 3)  # RunPod bills failed jobs too
    if job.status is JobStatus.CANCELLED:
        return RenderError(f"RunPod job {job.id} was cancelled", retryable=False, gpu_s=billed)
    if job.status is JobStatus.TIMED_OUT:
        return RenderError(f"RunPod job {job.id} timed out", retryable=True, gpu_s=billed)
    if detail.startswith(WORKER_MISCONFIGURED):
        reason = detail.removeprefix(WORKER_MISCONFIGURED).lstrip(": ")
        return RenderError(f"The RunPod shot endpoint is misconfigured: {reason}. Fix the "
                           "endpoint's settings in the RunPod console (retrying will not help)",
                           retryable=False, gpu_s=billed)
    if detail.startswith(INVALID_INPUT):
        return RenderError(f"RunPod job {job.id} refused the shot: {detail}", retryable=False,
                           gpu_s=billed)
    return RenderError(f"RunPod job {job.id} failed: {detail or 'no reason given'}",
                       retryable=True, gpu_s=billed)


def _render_error(what: str, exc: RunPodError) -> RenderError:
    # Transient (no answer, 429, 5xx, our own wait limit) may work next time; a refused key
    # or another 4xx will not.
    transient = exc.status is None or exc.status == 429 or exc.status >= 500
    return RenderError(f"{what}: {exc}",
                       retryable=transient and not isinstance(exc, RunPodAuthError))
