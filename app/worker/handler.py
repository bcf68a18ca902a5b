"""The RunPod serverless handler of the shot worker.

``handler(job)`` validates ``job["input"]`` against the shot contract
(DESIGN.md), renders with the configured backend, uploads the PNG to the
requested bucket/key and returns the COMPLETED output: where the image is and
what it is, never its bytes. A bad input returns ``{"error": "invalid shot
input: ..."}`` (RunPod marks the job FAILED; the desktop does not retry it).

Every PNG carries its provenance before it is uploaded (``app.core.provenance``,
read back with ``read_provenance``): run, scene, shot and attempt from the
optional ``provenance`` input object (else read from ``output.key``,
``runs/<run>/shots/<shot>/<attempt>.png``), the prompt, seed and size of the
job, the backend's model, the endpoint (``RUNPOD_ENDPOINT_ID``), the job id and
the load and render times. The sha256 and size answered are of those bytes.

Validation is done here by hand: runpod's ``rp_validator`` skips the
constraints of any field with a default (FACTS.md).

Run: ``python -u -m app.worker.handler`` (``import runpod`` happens only there).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.core.provenance import Provenance, embed_chunks, now_iso, provenance_chunks
from app.worker.upload import S3Uploader, UploadError

log = logging.getLogger("storyreel.worker")

INVALID_INPUT = "invalid shot input"
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
BACKENDS = {"gpu": "app.worker.gpu", "draft": "app.worker.draft"}

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # as app.core.storage.check_key
# app.core.renderers.shot_key and app.core.models.shot_id_for
_SHOT_KEY = re.compile(r"^runs/([^/]+)/shots/([^/]+)/([0-9]{1,6})\.png$")
_SHOT_ID = re.compile(r"^s([0-9]{1,6})-[0-9]+$")


class Backend(Protocol):
    name: str
    model: str
    load_s: float

    def render(self, *, prompt: str, negative_prompt: str, width: int, height: int, seed: int,
               steps: int, guidance: float,
               on_step: Callable[[int, int], None] | None = None) -> bytes: ...


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
    check_key(key)
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


def report_progress(job: Mapping[str, Any], payload: dict[str, Any]) -> None:
    """``runpod.serverless.progress_update`` when the worker runs under runpod; else nothing.

    Progress is a nicety: a failure to report it never fails the job.
    """
    runpod = sys.modules.get("runpod")
    if runpod is None or "id" not in job or not os.environ.get("RUNPOD_WEBHOOK_POST_OUTPUT"):
        return  # not on RunPod (a test, or runpod's local test modes): nobody to tell
    try:
        runpod.serverless.progress_update(job, payload)
    except Exception as exc:  # the SDK's reporting thread, or no job API locally
        log.debug("progress update failed: %s", exc)


class ShotWorker:
    """Validate, render, mark with provenance, upload, answer. One per process; the
    backend is loaded once. ``endpoint``: the RunPod endpoint id, named in every image."""

    def __init__(
        self,
        backend: Backend,
        uploader: S3Uploader,
        *,
        endpoint: str = "",
        progress: Callable[[Mapping[str, Any], dict[str, Any]], None] = report_progress,
    ) -> None:
        self.backend = backend
        self.uploader = uploader
        self.endpoint = endpoint
        self.progress = progress
        self._load_s = backend.load_s  # charged to the first job only

    def handle(self, job: Mapping[str, Any]) -> dict[str, Any]:
        try:
            shot = parse_input(job.get("input"))
            self.uploader.check_bucket(shot.bucket)
        except (InvalidInput, UploadError) as exc:
            log.info("job %s refused: %s", job.get("id"), exc)
            return {"error": f"{INVALID_INPUT}: {exc}"}

        self.progress(job, {"stage": "rendering", "step": 0, "steps": shot.steps})
        started = time.perf_counter()
        png = self.backend.render(
            prompt=shot.prompt, negative_prompt=shot.negative_prompt, width=shot.width,
            height=shot.height, seed=shot.seed, steps=shot.steps, guidance=shot.guidance,
            on_step=lambda step, steps: self.progress(
                job, {"stage": "rendering", "step": step, "steps": steps}),
        )
        rendered = time.perf_counter()
        timings = {"load_s": round(self._load_s, 3), "render_s": round(rendered - started, 3)}
        png = embed_chunks(png, provenance_chunks(self.provenance(job, shot, timings)))
        sha256 = hashlib.sha256(png).hexdigest()  # of the bytes uploaded, chunks and all

        self.progress(job, {"stage": "uploading", "step": shot.steps, "steps": shot.steps})
        marked = time.perf_counter()
        try:
            self.uploader.put(shot.bucket, shot.key, png, metadata={
                "sha256": sha256, "seed": str(shot.seed), "model": self.backend.model})
        except UploadError as exc:
            log.warning("job %s: %s", job.get("id"), exc)
            return {"error": str(exc)}
        uploaded = time.perf_counter()

        self._load_s = 0.0
        return {
            "image": {"bucket": shot.bucket, "key": shot.key, "width": shot.width,
                      "height": shot.height, "seed": shot.seed, "sha256": sha256,
                      "bytes": len(png), "mime": "image/png"},
            "timings": {**timings, "upload_s": round(uploaded - marked, 3)},
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


def load_backend(name: str | None = None) -> Backend:
    """The backend named by ``STORYREEL_WORKER_BACKEND`` (``gpu`` by default): importing
    its module loads its model, once per process."""
    name = (name or os.environ.get("STORYREEL_WORKER_BACKEND") or "gpu").strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"STORYREEL_WORKER_BACKEND must be one of {', '.join(BACKENDS)}, "
                         f"got {name!r}")
    return importlib.import_module(BACKENDS[name]).BACKEND


_worker: ShotWorker | None = None


def default_worker() -> ShotWorker:
    """The process's worker, built from the environment on first use."""
    global _worker
    if _worker is None:
        _worker = ShotWorker(load_backend(), S3Uploader.from_env(),
                             endpoint=os.environ.get("RUNPOD_ENDPOINT_ID", "").strip())
    return _worker


def reset() -> None:
    """Forget the process's worker (tests change the environment between cases)."""
    global _worker
    _worker = None


def handler(job: dict[str, Any]) -> dict[str, Any]:
    """The entry point RunPod calls with ``{"id": ..., "input": {...}}``."""
    return default_worker().handle(job)


def main() -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = default_worker()  # load the model before taking the first job
    log.info("shot worker ready: backend %s, model %s, loaded in %.1f s",
             worker.backend.name, worker.backend.model, worker.backend.load_s)
    import runpod  # only here: tests import this module without the runpod package

    runpod.serverless.start({"handler": handler})


if __name__ == "__main__":
    main()
