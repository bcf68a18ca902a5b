"""The GPU backend: FLUX.1-schnell through diffusers' ``FluxPipeline``, loaded once at import.

Importing this module loads the model onto the GPU (the worker does it before
it takes its first job), so every job after the first pays no load time.
Written against diffusers 0.42 (``dtype=`` keyword; ``torch_dtype`` is
deprecated since 0.40) and reviewed, but not runnable on a machine without a
CUDA GPU and the weights; nothing in the test suite imports it.

FLUX facts honoured here (FACTS.md): 4 steps, guidance 0.0 and
``max_sequence_length=256`` for schnell (the pipeline's defaults of 28, 3.5
and 512 are for dev); bf16; width and height multiples of 16 (the handler
refuses others, diffusers would only warn and round down); the seed drives a
CPU ``torch.Generator``, the most reproducible choice. FLUX.1-schnell has no
negative prompt (it is guidance-distilled): ``negative_prompt`` is accepted by
the contract and ignored here.

Environment:
- ``STORYREEL_MODEL_PATH``: a local diffusers folder (default ``/models/flux-schnell``,
  where the Dockerfile puts the weights at build time);
- ``STORYREEL_MODEL_ID``: the hub id, used for the name and for RunPod's model
  cache (``/runpod-volume/huggingface-cache/hub/models--org--name/snapshots/*``);
- ``STORYREEL_CPU_OFFLOAD=1``: model CPU offload for 24 GB cards (slower).
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

# Before any Hugging Face import: the weights are on disk, never fetched at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch
from diffusers import FluxPipeline

log = logging.getLogger(__name__)

MODEL_ID = os.environ.get("STORYREEL_MODEL_ID", "black-forest-labs/FLUX.1-schnell")
MODEL_PATH = os.environ.get("STORYREEL_MODEL_PATH", "/models/flux-schnell")
MAX_SEQUENCE_LENGTH = 256
RUNPOD_CACHE = Path("/runpod-volume/huggingface-cache/hub")


def _weights() -> str:
    """Where to load from: the baked-in folder, else RunPod's model cache, else the hub id."""
    if Path(MODEL_PATH, "model_index.json").is_file():
        return MODEL_PATH
    cached = RUNPOD_CACHE / f"models--{MODEL_ID.replace('/', '--')}" / "snapshots"
    snapshots = sorted(cached.glob("*/model_index.json")) if cached.is_dir() else []
    if snapshots:
        return str(snapshots[-1].parent)
    return MODEL_ID  # only works with HF_HUB_OFFLINE=0 and a token: a mis-built image


def _load() -> tuple[FluxPipeline, float]:
    started = time.perf_counter()
    if not torch.cuda.is_available():  # pre-flight: fail fast, before taking any job
        raise RuntimeError("no CUDA GPU is visible to the worker; the gpu backend needs one "
                           "(set STORYREEL_WORKER_BACKEND=draft for a CPU endpoint)")
    source = _weights()
    log.info("loading %s from %s on %s", MODEL_ID, source, torch.cuda.get_device_name(0))
    pipe = FluxPipeline.from_pretrained(source, dtype=torch.bfloat16)
    if os.environ.get("STORYREEL_CPU_OFFLOAD") == "1":
        pipe.enable_model_cpu_offload()
    else:
        pipe.to("cuda")
    pipe.set_progress_bar_config(disable=True)
    return pipe, time.perf_counter() - started


PIPE, LOAD_S = _load()


class FluxBackend:
    name = "gpu"
    model = MODEL_ID
    load_s = LOAD_S

    def render(
        self,
        *,
        prompt: str,
        negative_prompt: str,
        width: int,
        height: int,
        seed: int,
        steps: int,
        guidance: float,
        on_step: Callable[[int, int], None] | None = None,
    ) -> bytes:
        generator = torch.Generator(device="cpu").manual_seed(seed)

        def step_end(pipe, step: int, timestep, callback_kwargs: dict) -> dict:
            if on_step is not None:
                on_step(step + 1, steps)
            return callback_kwargs

        with torch.inference_mode():
            result = PIPE(
                prompt=prompt,
                width=width,
                height=height,
                num_inference_steps=steps,
                guidance_scale=guidance,
                max_sequence_length=MAX_SEQUENCE_LENGTH,
                generator=generator,
                output_type="pil",
                callback_on_step_end=step_end,
            )
        out = io.BytesIO()
        result.images[0].save(out, format="PNG")
        return out.getvalue()


BACKEND = FluxBackend()
