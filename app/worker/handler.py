"""The RunPod serverless handler of the shot worker.

``handler(job)`` (async; runpod's job loop awaits it) validates ``job["input"]``
against the shot contract (DESIGN.md), renders with the configured backend,
encodes the PNG with its provenance (``app.core.provenance``), uploads it to the
endpoint's own bucket at the requested key and returns the COMPLETED output:
where the image is and what it is, never its bytes.

What a job can fail with (the job's ``error`` text; the desktop reads the prefix):

- ``invalid shot input: ...``: the input breaks the contract (bounds, the key shape
  ``runs/<run>/shots/<shot>/<attempt>.png``, another bucket than ``R2_BUCKET``) or
  this worker's limits (``app.worker.limits``: pixels and steps by the card's
  memory). No new job fixes it: the desktop does not retry.
- ``worker misconfigured: ...``: the endpoint's settings are wrong (R2 settings,
  ``R2_BUCKET``, the backend, the model files, no GPU) or R2 refused its
  credentials. Checked at start, before the model loads; a misconfigured worker
  still starts serving (it never crash-loops) and fails every job with what is
  missing. The desktop shows it as a configuration error and does not retry.
- ``GPU error ...``: CUDA out of memory or another CUDA error. The cache is
  emptied and the result carries ``refresh_worker: True``, so RunPod replaces the
  worker; later jobs on this worker fail the same way at once. Retryable.
- anything else (an upload that failed, a bug): retryable.

Progress: none. The desktop never reads it; runpod's ``progress_update`` starts a
thread with its own event loop and TLS session per call, and the last one can land
after the result. A render takes about a second.

Speed: the handler is async. Renders take a GPU lock, one at a time; encoding
the PNG (``compress_level=1``) and uploading run in threads outside it, and the
``concurrency_modifier`` lets runpod hand the worker a second job
(``STORYREEL_WORKER_CONCURRENCY``, default 2), so one shot's encode and upload
overlap the next one's render.

Validation is done here by hand: runpod's ``rp_validator`` skips the
constraints of any field with a default (FACTS.md).

Run: ``python -u -m app.worker.handler`` (``import runpod`` happens only there).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from app.core.provenance import Provenance, now_iso, png_info, provenance_chunks
from app.worker.limits import Limits
from app.worker.upload import S3Uploader, UploadError, read_r2_settings
from app.worker.weights import WeightsMissing, check_model_folder, find_model

log = logging.getLogger("storyreel.worker")

INVALID_INPUT = "invalid shot input"
WORKER_MISCONFIGURED = "worker misconfigured"  # app.core.renderers.runpod reads both prefixes
GPU_ERROR = "GPU error"
PNG_COMPRESS_LEVEL = 1  # zlib level 1: a few times faster than 6, a little larger
DEFAULT_CONCURRENCY = 2
MAX_CONCURRENCY = 4
SIDE_MULTIPLE = 16  # FLUX: multiples of 16
MIN_SIDE = 256
MAX_SIDE = 2048
MAX_STEPS = 50
MAX_GUIDANCE = 30.0
MAX_SEED = 2**63 - 1
MAX_PROMPT_CHARS = 4000
MAX_ID_CHARS = 128  # provenance.run_id and provenance.shot_id
MAX_SHOT_NUMBER_CHARS = 64
MAX_ORDINAL = 1_000_000  # provenance.scene and provenance.attempt
BACKENDS = ("gpu", "draft")

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # as app.core.storage.check_key
# app.core.renderers.shot_key and app.core.models.shot_id_for
_SHOT_KEY = re.compile(r"^runs/([^/]+)/shots/([^/]+)/([1-9][0-9]{0,5})\.png$")
_SHOT_ID = re.compile(r"^s([0-9]{1,6})-[0-9]+$")


class Backend(Protocol):
    name: str
    model: str
    load_s: float
    limits: Limits

    def render(self, *, prompt: str, negative_prompt: str, width: int, height: int, seed: int,
               steps: int, guidance: float) -> Image.Image: ...

    def recover(self) -> None:
        """After a GPU error: free what can be freed (the CUDA cache)."""


class InvalidInput(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ShotOrigin:
    """Which image of which shot a job makes: what its provenance names. Empty strings
    and zeros where neither the input nor the key says."""

    run_id: str = ""
    scene: int = 0
    shot_id: str = ""
    shot_number: str = ""
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class ShotJob:
    prompt: str
    negative_prompt: str
    width: int
    height: int
    seed: int
    steps: int
    guidance: float
    bucket: str
    key: str
    origin: ShotOrigin = ShotOrigin()


def parse_input(raw: Any) -> ShotJob:
    """Check a job input against the shot contract. ``InvalidInput`` says what is wrong."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("the input must be a JSON object")
    if raw.get("task") != "shot":
        raise InvalidInput(f"task must be 'shot', got {raw.get('task')!r}")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("prompt must be a non-empty string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInput(f"prompt is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}")
    negative = raw.get("negative_prompt", "")
    if negative is None:
        negative = ""
    if not isinstance(negative, str) or len(negative) > MAX_PROMPT_CHARS:
        raise InvalidInput(f"negative_prompt must be a string of at most {MAX_PROMPT_CHARS} "
                           "characters")
    width = _side(raw, "width")
    height = _side(raw, "height")
    seed = _whole(raw, "seed", 0, MAX_SEED)
    steps = _whole(raw, "steps", 1, MAX_STEPS)
    guidance = raw.get("guidance", 0.0)
    if (isinstance(guidance, bool) or not isinstance(guidance, int | float)
            or not math.isfinite(guidance) or not 0 <= guidance <= MAX_GUIDANCE):
        raise InvalidInput(f"guidance must be a number from 0 to {MAX_GUIDANCE:g}, "
                           f"got {guidance!r}")
    output = raw.get("output")
    if not isinstance(output, Mapping):
        raise InvalidInput("output must be an object with 'bucket' and 'key'")
    bucket, key = output.get("bucket"), output.get("key")
    if not isinstance(bucket, str) or not _BUCKET.match(bucket):
        raise InvalidInput(f"output.bucket {bucket!r} is not a valid bucket name")
    check_shot_key(key)
    origin = parse_origin(raw.get("provenance"), key)
    return ShotJob(prompt=prompt.strip(), negative_prompt=negative.strip(), width=width,
                   height=height, seed=seed, steps=steps, guidance=float(guidance),
                   bucket=bucket, key=key, origin=origin)


def origin_from_key(key: str) -> ShotOrigin:
    """Run, shot, attempt (and the scene, from a ``sNN-MM`` shot id) read from a key laid
    out as the desktop lays them out; an empty origin for any other key."""
    match = _SHOT_KEY.match(key)
    if match is None:
        return ShotOrigin()
    run_id, shot_id, attempt = match.groups()
    scene = _SHOT_ID.match(shot_id)
    return ShotOrigin(run_id=run_id, shot_id=shot_id, attempt=int(attempt),
                      scene=int(scene.group(1)) if scene else 0)


def parse_origin(raw: Any, key: str) -> ShotOrigin:
    """The optional ``provenance`` input object: ``run_id``, ``scene``, ``shot_id``,
    ``shot_number`` and ``attempt``, each optional (the key fills in what is missing),
    other fields ignored. Run, shot and attempt must agree with the key when it says."""
    from_key = origin_from_key(key)
    if raw is None:
        return from_key
    if not isinstance(raw, Mapping):
        raise InvalidInput("provenance must be an object with run_id, scene, shot_id, "
                           f"shot_number and attempt, got {type(raw).__name__}")
    values: dict[str, Any] = {}
    for name in ("run_id", "shot_id"):
        if raw.get(name) is not None:
            value = raw[name]
            if (not isinstance(value, str) or len(value) > MAX_ID_CHARS
                    or not _KEY_PART.match(value)):
                raise InvalidInput(f"provenance.{name} must be an id of at most "
                                   f"{MAX_ID_CHARS} letters, digits, '.', '_' and '-', "
                                   f"got {value!r}")
            values[name] = value
    for name in ("scene", "attempt"):
        if raw.get(name) is not None:
            values[name] = _whole(raw, name, 1, MAX_ORDINAL, prefix="provenance.")
    if raw.get("shot_number") is not None:
        number = raw["shot_number"]
        if not isinstance(number, str) or len(number) > MAX_SHOT_NUMBER_CHARS:
            raise InvalidInput(f"provenance.shot_number must be a string of at most "
                               f"{MAX_SHOT_NUMBER_CHARS} characters, got {number!r}")
        values["shot_number"] = number.strip()
    if from_key.run_id:
        for name in ("run_id", "shot_id", "attempt"):
            if name in values and values[name] != getattr(from_key, name):
                raise InvalidInput(f"provenance.{name} {values[name]!r} does not match "
                                   f"output.key {key!r}")
    return ShotOrigin(
        run_id=values.get("run_id", from_key.run_id),
        scene=values.get("scene", from_key.scene),
        shot_id=values.get("shot_id", from_key.shot_id),
        shot_number=values.get("shot_number", ""),
        attempt=values.get("attempt", from_key.attempt),
    )


def check_key(key: Any) -> str:
    """A safe relative ``.png`` key: the rules of ``app.core.storage.check_key``."""
    if not isinstance(key, str) or not key or len(key) > 1024:
        raise InvalidInput(f"output.key {key!r} is empty or too long")
    if any(not _KEY_PART.match(part) for part in key.split("/")):
        raise InvalidInput(f"output.key {key!r} must be a relative path of letters, digits, "
                           "'.', '_' and '-' (no empty parts, no '..', no leading '/')")
    if not key.endswith(".png"):
        raise InvalidInput(f"output.key {key!r} must end in .png")
    return key


def check_shot_key(key: Any) -> str:
    """A safe key (``check_key``) of the one shape the desktop writes:
    ``runs/<run>/shots/<shot>/<attempt>.png``, attempt a whole number from 1."""
    check_key(key)
    if not _SHOT_KEY.match(key):
        raise InvalidInput(f"output.key {key!r} must be runs/<run>/shots/<shot>/<attempt>.png")
    return key


def _whole(raw: Mapping[str, Any], name: str, low: int, high: int, *, prefix: str = "") -> int:
    value = raw.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{prefix}{name} must be a whole number from {low} to {high}, "
                           f"got {value!r}")
    return value


def _side(raw: Mapping[str, Any], name: str) -> int:
    value = _whole(raw, name, MIN_SIDE, MAX_SIDE)
    if value % SIDE_MULTIPLE:
        raise InvalidInput(f"{name} must be a multiple of {SIDE_MULTIPLE}, got {value}")
    return value


DEVICE_ERROR_TYPES = frozenset({"OutOfMemoryError", "AcceleratorError"})  # torch's CUDA errors
DEVICE_ERROR_TEXT = ("CUDA error", "CUDA out of memory", "CUBLAS_STATUS", "CUDNN_STATUS",
                     "cuDNN error", "device-side assert", "NCCL error", "illegal memory access")


def is_device_error(exc: BaseException) -> bool:
    """CUDA out of memory or another CUDA error: the GPU (or its context) is suspect.
    Read from the type names and text torch uses, so no torch import is needed."""
    if any(kind.__name__ in DEVICE_ERROR_TYPES for kind in type(exc).__mro__):
        return True
    text = str(exc)
    return any(marker in text for marker in DEVICE_ERROR_TEXT)


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ShotWorker:
    """Validate, render, encode with provenance, upload, answer. One per process; the
    backend is loaded once. ``endpoint``: the RunPod endpoint id, named in every image.

    ``run`` (async) is what runpod calls; ``handle`` does the same job synchronously
    for callers without an event loop of their own (tests, the fake RunPod API)."""

    def __init__(self, backend: Backend, uploader: S3Uploader, *, endpoint: str = "",
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.backend = backend
        self.uploader = uploader
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.broken: str | None = None  # set by a GPU error: every later job fails at once
        self._load_s = backend.load_s  # charged to the first job only
        self._gpu = asyncio.Lock()

    def concurrency_modifier(self, current: int) -> int:
        """runpod asks before taking jobs: how many this worker holds at once."""
        return 1 if self.broken else self.concurrency

    async def run(self, job: Mapping[str, Any]) -> dict[str, Any]:
        shot = self._admit(job)
        if isinstance(shot, dict):
            return shot
        async with self._gpu:  # one render at a time; a job cancelled while waiting never renders
            if self.broken:
                return self._broken_answer()
            render = asyncio.ensure_future(asyncio.to_thread(self._render, shot))
            try:
                image, render_s = await asyncio.shield(render)
            except asyncio.CancelledError:
                # Stopped mid-render (runpod cancels the job's task): the thread cannot be
                # stopped, so the lock is held until it ends, or two renders would share the card.
                try:
                    await render
                except Exception as exc:
                    self._render_failed(job, exc)  # a GPU error still marks the worker
                raise
            except Exception as exc:
                return self._render_failed(job, exc)
        # Outside the lock: the next job renders while this one is encoded and uploaded.
        return await asyncio.to_thread(self._deliver, job, shot, image, render_s)

    def handle(self, job: Mapping[str, Any]) -> dict[str, Any]:
        shot = self._admit(job)
        if isinstance(shot, dict):
            return shot
        if self.broken:
            return self._broken_answer()
        try:
            image, render_s = self._render(shot)
        except Exception as exc:
            return self._render_failed(job, exc)
        return self._deliver(job, shot, image, render_s)

    def _admit(self, job: Mapping[str, Any]) -> ShotJob | dict[str, Any]:
        try:
            shot = parse_input(job.get("input"))
            self.uploader.check_bucket(shot.bucket)
            refused = self.backend.limits.check(shot.width, shot.height, shot.steps)
            if refused:
                raise InvalidInput(refused)
        except (InvalidInput, UploadError) as exc:
            log.info("job %s refused: %s", job.get("id"), exc)
            return {"error": f"{INVALID_INPUT}: {exc}"}
        return shot

    def _render(self, shot: ShotJob) -> tuple[Image.Image, float]:
        started = time.perf_counter()
        image = self.backend.render(
            prompt=shot.prompt, negative_prompt=shot.negative_prompt, width=shot.width,
            height=shot.height, seed=shot.seed, steps=shot.steps, guidance=shot.guidance)
        return image, time.perf_counter() - started

    def _render_failed(self, job: Mapping[str, Any], exc: Exception) -> dict[str, Any]:
        if not is_device_error(exc):
            log.exception("job %s: the render failed", job.get("id"))
            return {"error": f"render failed: {type(exc).__name__}: {_one_line(exc)}"}
        log.error("job %s: %s: %s; asking RunPod to replace this worker", job.get("id"),
                  type(exc).__name__, exc)
        try:
            self.backend.recover()
        except Exception as again:  # the context may be gone for good: replaced anyway
            log.warning("freeing GPU memory after the error failed too: %s", again)
        self.broken = f"{type(exc).__name__}: {_one_line(exc, 300)}"
        return {"error": f"{GPU_ERROR} on this worker ({self.broken}); RunPod replaces the "
                         "worker", "refresh_worker": True}

    def _broken_answer(self) -> dict[str, Any]:
        return {"error": f"{GPU_ERROR} earlier on this worker ({self.broken}); it is being "
                         "replaced", "refresh_worker": True}

    def _deliver(self, job: Mapping[str, Any], shot: ShotJob, image: Image.Image,
                 render_s: float) -> dict[str, Any]:
        load_s, self._load_s = self._load_s, 0.0
        timings = {"load_s": round(load_s, 3), "render_s": round(render_s, 3)}
        started = time.perf_counter()
        png = encode_png(image, provenance_chunks(self.provenance(job, shot, timings)))
        sha256 = hashlib.sha256(png).hexdigest()  # of the bytes uploaded, chunks and all
        encoded = time.perf_counter()
        try:
            self.uploader.put(shot.bucket, shot.key, png, metadata={
                "sha256": sha256, "seed": str(shot.seed), "model": self.backend.model})
        except UploadError as exc:
            log.warning("job %s: %s", job.get("id"), exc)
            if exc.settings:
                return {"error": f"{WORKER_MISCONFIGURED}: R2 refused the upload ({exc}); check "
                                 "R2_BUCKET and the R2 token in the endpoint's environment"}
            return {"error": str(exc)}
        uploaded = time.perf_counter()
        return {
            "image": {"bucket": shot.bucket, "key": shot.key, "width": shot.width,
                      "height": shot.height, "seed": shot.seed, "sha256": sha256,
                      "bytes": len(png), "mime": "image/png"},
            "timings": {**timings, "encode_s": round(encoded - started, 3),
                        "upload_s": round(uploaded - encoded, 3)},
            "model": self.backend.model,
        }

    def provenance(self, job: Mapping[str, Any], shot: ShotJob,
                   timings: Mapping[str, float]) -> Provenance:
        """What made this job's image (the upload time cannot be inside the file it uploads)."""
        origin = shot.origin
        job_id = job.get("id")
        return Provenance(
            run_id=origin.run_id, scene=origin.scene, shot_id=origin.shot_id,
            shot_number=origin.shot_number, attempt=origin.attempt, prompt=shot.prompt,
            negative_prompt=shot.negative_prompt, seed=shot.seed, model=self.backend.model,
            width=shot.width, height=shot.height, endpoint=self.endpoint,
            job_id="" if job_id is None else str(job_id), timings=dict(timings),
            created_at=now_iso(),
        )


def encode_png(image: Image.Image, chunks: Mapping[str, str]) -> bytes:
    """The PNG of ``image`` with ``chunks`` as iTXt, at zlib level 1."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL, pnginfo=png_info(chunks))
    return out.getvalue()


class RefusingWorker:
    """A worker that cannot render: it serves and fails every job with ``message``
    (with ``refresh_worker`` when the GPU itself failed while loading)."""

    def __init__(self, message: str, *, refresh: bool = False) -> None:
        self.message = message
        self.refresh = refresh

    def concurrency_modifier(self, current: int) -> int:
        return 1

    def handle(self, job: Mapping[str, Any]) -> dict[str, Any]:
        log.warning("job %s failed: %s", job.get("id"), self.message)
        answer: dict[str, Any] = {"error": self.message}
        if self.refresh:
            answer["refresh_worker"] = True
        return answer

    async def run(self, job: Mapping[str, Any]) -> dict[str, Any]:
        return self.handle(job)


class WorkerConfigError(RuntimeError):
    """The endpoint's settings are wrong (raised by a backend's pre-flight check)."""


def backend_name(env: Mapping[str, str]) -> str:
    return (env.get("STORYREEL_WORKER_BACKEND") or "gpu").strip().lower()


def configuration_problems(env: Mapping[str, str]) -> list[str]:
    """Everything wrong with the endpoint's environment that can be seen without loading
    the model (nor importing torch): R2 settings, the bucket, the backend, the model files
    and the concurrency."""
    problems = []
    settings, missing = read_r2_settings(env)
    if missing:
        problems.append(f"set {', '.join(missing)} in the endpoint's environment")
    elif not _BUCKET.match(settings.bucket):
        problems.append(f"R2_BUCKET {settings.bucket!r} is not a valid bucket name")
    name = backend_name(env)
    if name not in BACKENDS:
        problems.append(f"STORYREEL_WORKER_BACKEND must be one of {', '.join(BACKENDS)}, "
                        f"not {name!r}")
    elif name == "gpu":
        try:
            problems += check_model_folder(find_model(env).path)
        except WeightsMissing as exc:
            problems.append(str(exc))
    raw = env.get("STORYREEL_WORKER_CONCURRENCY", "").strip()
    if raw and (not raw.isdigit() or not 1 <= int(raw) <= MAX_CONCURRENCY):
        problems.append(f"STORYREEL_WORKER_CONCURRENCY must be a whole number from 1 to "
                        f"{MAX_CONCURRENCY}, not {raw!r}")
    return problems


def load_backend(name: str, env: Mapping[str, str]) -> Backend:
    """Load the named backend (``gpu`` imports torch and loads FLUX, once per process)."""
    if name == "draft":
        from app.worker.draft import DraftBackend

        return DraftBackend()
    from app.worker import gpu

    return gpu.load(env)


def build_worker(env: Mapping[str, str],
                 load: Callable[[str, Mapping[str, str]], Backend] = load_backend
                 ) -> ShotWorker | RefusingWorker:
    """The process's worker. Never raises: whatever is wrong becomes a worker that fails
    each job saying so, so the container serves instead of restarting in a loop."""
    problems = configuration_problems(env)
    if problems:
        message = f"{WORKER_MISCONFIGURED}: {'; '.join(problems)}"
        log.error("%s", message)
        return RefusingWorker(message)
    started = time.perf_counter()
    try:
        backend = load(backend_name(env), env)
    except WorkerConfigError as exc:
        log.error("%s: %s", WORKER_MISCONFIGURED, exc)
        return RefusingWorker(f"{WORKER_MISCONFIGURED}: {exc}")
    except Exception as exc:  # a load that failed: say so in every job, never crash-loop
        log.exception("the %s backend did not load", backend_name(env))
        reason = f"{type(exc).__name__}: {_one_line(exc, 300)}"
        if is_device_error(exc):
            return RefusingWorker(f"{GPU_ERROR} while loading the model ({reason}); RunPod "
                                  "replaces the worker", refresh=True)
        return RefusingWorker(f"{WORKER_MISCONFIGURED}: the model could not be loaded ({reason})")
    settings, _ = read_r2_settings(env)
    assert settings is not None  # configuration_problems checked it
    concurrency = int(env.get("STORYREEL_WORKER_CONCURRENCY", "").strip() or DEFAULT_CONCURRENCY)
    log.info("shot worker ready: backend %s, model %s, loaded in %.1f s (%.1f s here), "
             "limits %s, %d job(s) at once", backend.name, backend.model, backend.load_s,
             time.perf_counter() - started, backend.limits, concurrency)
    return ShotWorker(backend, S3Uploader.from_settings(settings),
                      endpoint=env.get("RUNPOD_ENDPOINT_ID", "").strip(), concurrency=concurrency)


_worker: ShotWorker | RefusingWorker | None = None


def default_worker() -> ShotWorker | RefusingWorker:
    """The process's worker, built from the environment on first use."""
    global _worker
    if _worker is None:
        _worker = build_worker(os.environ)
    return _worker


def reset() -> None:
    """Forget the process's worker (tests change the environment between cases)."""
    global _worker
    _worker = None


async def handler(job: dict[str, Any]) -> dict[str, Any]:
    """The entry point runpod's job loop awaits with ``{"id": ..., "input": {...}}``."""
    return await default_worker().run(job)


def concurrency_modifier(current: int) -> int:
    return default_worker().concurrency_modifier(current)


def main(load: Callable[[str, Mapping[str, str]], Backend] = load_backend) -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    global _worker
    _worker = build_worker(os.environ, load)  # load the model before taking the first job
    import runpod  # only here: tests import this module without the runpod package

    runpod.serverless.start({"handler": handler, "concurrency_modifier": concurrency_modifier})


if __name__ == "__main__":
    main()
