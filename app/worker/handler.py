"""The RunPod serverless handler of the shot worker.

``handler(job)`` validates ``job["input"]`` against the shot contract
(DESIGN.md), renders with the configured backend, uploads the PNG to the
requested bucket/key and returns the COMPLETED output: where the image is and
what it is, never its bytes. A bad input returns ``{"error": "invalid shot
input: ..."}`` (RunPod marks the job FAILED; the desktop does not retry it).

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
BACKENDS = {"gpu": "app.worker.gpu", "draft": "app.worker.draft"}

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # as app.core.storage.check_key


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
    return ShotJob(prompt=prompt.strip(), negative_prompt=negative.strip(), width=width,
                   height=height, seed=seed, steps=steps, guidance=float(guidance),
                   bucket=bucket, key=key)


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


def _whole(raw: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = raw.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}, got {value!r}")
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
    """Validate, render, upload, answer. One per process; the backend is loaded once."""

    def __init__(
        self,
        backend: Backend,
        uploader: S3Uploader,
        *,
        progress: Callable[[Mapping[str, Any], dict[str, Any]], None] = report_progress,
    ) -> None:
        self.backend = backend
        self.uploader = uploader
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
        sha256 = hashlib.sha256(png).hexdigest()

        self.progress(job, {"stage": "uploading", "step": shot.steps, "steps": shot.steps})
        try:
            self.uploader.put(shot.bucket, shot.key, png, metadata={
                "sha256": sha256, "seed": str(shot.seed), "model": self.backend.model})
        except UploadError as exc:
            log.warning("job %s: %s", job.get("id"), exc)
            return {"error": str(exc)}
        uploaded = time.perf_counter()

        load_s, self._load_s = self._load_s, 0.0
        return {
            "image": {"bucket": shot.bucket, "key": shot.key, "width": shot.width,
                      "height": shot.height, "seed": shot.seed, "sha256": sha256,
                      "bytes": len(png), "mime": "image/png"},
            "timings": {"load_s": round(load_s, 3), "render_s": round(rendered - started, 3),
                        "upload_s": round(uploaded - rendered, 3)},
            "model": self.backend.model,
        }


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
        _worker = ShotWorker(load_backend(), S3Uploader.from_env())
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
