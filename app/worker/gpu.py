"""The GPU backend: FLUX.1-schnell through diffusers' ``FluxPipeline``.

``load(env)`` is called once, at start, after ``app.worker.handler`` has checked
the configuration (R2, bucket, model files); it checks the GPU, logs what the
worker runs on (driver, ``torch.version.cuda``, card, free memory), decides
where each part of the model sits, and loads it. Written against diffusers
0.42.1 (``dtype=`` keyword) and torchao 0.18; reviewed and run on CPU with a tiny
random FLUX (``packaging/worker/gpu_check.py --tiny --device cpu``, in the tests),
and at full size with random weights only where a GPU is at hand (see
packaging/worker/README.md for what was checked).

Where the model sits (``placement``), decided from the card's memory unless set:

- ``gpu``: everything on the card, loaded straight there (``device_map``):
  bf16 on cards of 40 GiB or more, or with an fp8 transformer on 30 GiB or more.
- ``text-offload``: fp8 transformer on the card, the 9.5 GB T5 encoder streamed
  from CPU memory block by block (it runs once per image): 24 GiB cards with fp8.
- ``offload`` (``STORYREEL_CPU_OFFLOAD=1``, or bf16 on a card under 40 GiB): the
  transformer and T5 stream from CPU memory by groups of blocks on a side CUDA
  stream (diffusers' group offloading); the transformer never goes whole to the
  card, so a 24 GB card renders, slowly (each step moves 24 GB over PCIe). The streamed
  parts are pinned in host memory: the host needs about 48 GB of RAM.

fp8 (``STORYREEL_FP8=1``): the transformer's linear layers in float8 through
torchao, halving its 23.8 GB. Dynamic activation and weight fp8 on cards of
compute capability 8.9 or more (L4, L40S, RTX 4090, H100); weight-only fp8 (memory
only) on older ones (A100, A6000).

FLUX facts honoured (FACTS.md): 4 steps, guidance 0.0 and
``max_sequence_length=256`` for schnell (the pipeline's defaults are for dev);
bf16; sides in multiples of 16 (the handler refuses others); the seed drives a
CPU ``torch.Generator``; no negative prompt (schnell is guidance-distilled:
``negative_prompt`` is accepted by the contract and ignored). The VAE decodes in
tiles above 2 MP.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass

# Before any Hugging Face import: the weights are on disk, never fetched at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch
from diffusers import FluxPipeline, FluxTransformer2DModel
from diffusers.hooks import apply_group_offloading
from PIL import Image

from app.worker.handler import WorkerConfigError
from app.worker.limits import Limits, limits_for
from app.worker.weights import find_model

log = logging.getLogger("storyreel.worker.gpu")

DTYPE = torch.bfloat16
MAX_SEQUENCE_LENGTH = 256
TILE_ABOVE_PIXELS = 2_000_000  # the VAE decodes in tiles above 2 MP
PLACEMENTS = ("gpu", "text-offload", "offload")
BF16_WHOLE_GIB = 40.0  # 33.7 GB of weights plus activations and the VAE
FP8_WHOLE_GIB = 30.0  # ~22 GB with an fp8 transformer, plus the same
FP8_COMPUTE = (8, 9)  # float8 matmuls need Ada or Hopper or newer
BLOCK_MODULES = {"text_encoder_2": ["encoder"]}  # T5EncoderModel.encoder.block


@dataclass(frozen=True, slots=True)
class Card:
    """What the worker runs on, as logged at start."""

    name: str
    total_gib: float
    free_gib: float
    capability: tuple[int, int]
    driver: str
    torch_cuda: str

    def describe(self) -> str:
        return (f"{self.name}, {self.free_gib:.1f} of {self.total_gib:.1f} GiB free, "
                f"compute {self.capability[0]}.{self.capability[1]}, driver {self.driver}, "
                f"torch {torch.__version__} built for CUDA {self.torch_cuda}")


def driver_version() -> str:
    """The NVIDIA driver's version (nvidia-smi), or the CUDA version the driver supports."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            done = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                                  capture_output=True, text=True, timeout=10, check=False)
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.split()[0]
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        version = torch._C._cuda_getDriverVersion()  # e.g. 12080
        return f"unknown (supports CUDA {version // 1000}.{version % 1000 // 10})"
    except Exception:  # no driver at all
        return "none found"


def find_card() -> Card:
    """The GPU, or ``WorkerConfigError`` saying why there is none (a driver older than
    torch's CUDA build is the usual reason on a GPU host)."""
    if not torch.cuda.is_available():
        raise WorkerConfigError(
            f"no CUDA GPU is visible to the worker (driver {driver_version()}; torch "
            f"{torch.__version__} is built for CUDA {torch.version.cuda}, whose driver it "
            "needs): choose GPU types and the CUDA versions in packaging/worker/README.md, "
            "or STORYREEL_WORKER_BACKEND=draft for a CPU endpoint")
    free, total = torch.cuda.mem_get_info(0)
    return Card(name=torch.cuda.get_device_name(0), total_gib=total / 2**30,
                free_gib=free / 2**30, capability=torch.cuda.get_device_capability(0),
                driver=driver_version(), torch_cuda=str(torch.version.cuda))


def choose_placement(env: Mapping[str, str], total_gib: float, fp8: bool) -> str:
    """``gpu``, ``text-offload`` or ``offload``: from ``STORYREEL_CPU_OFFLOAD`` when set
    (``1``: offload, ``0``: gpu), else from the card's memory."""
    forced = env.get("STORYREEL_CPU_OFFLOAD", "").strip().lower()
    if forced in ("1", "true", "yes"):
        return "offload"
    if forced in ("0", "false", "no"):
        return "gpu"
    if total_gib >= (FP8_WHOLE_GIB if fp8 else BF16_WHOLE_GIB):
        return "gpu"
    return "text-offload" if fp8 else "offload"


def fp8_config(capability: tuple[int, int]):
    """torchao's fp8 config for this card: activations and weights where the card has
    fp8 matmuls, weights only elsewhere."""
    from torchao.quantization import (
        Float8DynamicActivationFloat8WeightConfig,
        Float8WeightOnlyConfig,
        PerRow,
    )

    if capability >= FP8_COMPUTE:
        return Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())
    return Float8WeightOnlyConfig()


def read_pipeline(path: str, device: torch.device, placement: str,
                  fp8: tuple[int, int] | None) -> FluxPipeline:
    """FluxPipeline from a diffusers folder, placed. ``fp8``: the card's compute
    capability when the transformer is to be fp8."""
    if placement == "gpu" and fp8 is None:
        # Straight to the card: no full copy in CPU memory first.
        pipe = FluxPipeline.from_pretrained(path, dtype=DTYPE, device_map=device.type)
    else:
        transformer = FluxTransformer2DModel.from_pretrained(path, subfolder="transformer",
                                                             dtype=DTYPE)
        if fp8 is not None:
            from torchao.quantization import quantize_

            # Layer by layer onto the card, each quantized as it arrives: the peak is the
            # fp8 model plus one bf16 layer, never the 23.8 GB bf16 transformer.
            quantize_(transformer, fp8_config(fp8), device=device)
        pipe = FluxPipeline.from_pretrained(path, transformer=transformer, dtype=DTYPE)
    place(pipe, device, placement)
    return pipe


def place(pipe: FluxPipeline, device: torch.device, placement: str) -> None:
    """Put each part where ``placement`` says. Group offloading keeps a part's weights in
    CPU memory and brings one group of blocks at a time to ``device`` (on a side CUDA
    stream, so the next group's copy overlaps the current group's compute)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, not {placement!r}")
    stream = device.type == "cuda"
    streamed = {"gpu": (), "text-offload": ("text_encoder_2",),
                "offload": ("transformer", "text_encoder_2")}[placement]
    for name in ("transformer", "text_encoder", "text_encoder_2", "vae"):
        part = getattr(pipe, name)
        if name in streamed:
            # Groups are made of the ModuleLists found among a part's children: the
            # transformer's blocks are there; T5's are one level down, in its encoder.
            apply_group_offloading(part, onload_device=device, offload_device=torch.device("cpu"),
                                   offload_type="block_level", num_blocks_per_group=1,
                                   use_stream=stream, record_stream=stream,
                                   block_modules=BLOCK_MODULES.get(name))
        else:
            part.to(device)
    pipe.set_progress_bar_config(disable=True)


class FluxBackend:
    """Renders one image at a time (the handler's lock sees to it)."""

    name = "gpu"

    def __init__(self, pipe: FluxPipeline, *, device: torch.device, model: str,
                 placement: str, fp8: bool, limits: Limits, load_s: float) -> None:
        self.pipe = pipe
        self.device = device
        self.model = model
        self.placement = placement
        self.fp8 = fp8
        self.limits = limits
        self.load_s = load_s

    def render(self, *, prompt: str, negative_prompt: str, width: int, height: int, seed: int,
               steps: int, guidance: float) -> Image.Image:
        if width * height > TILE_ABOVE_PIXELS:
            self.pipe.vae.enable_tiling()
        else:
            self.pipe.vae.disable_tiling()
        generator = torch.Generator(device="cpu").manual_seed(seed)
        with torch.inference_mode():
            result = self.pipe(prompt=prompt, width=width, height=height,
                               num_inference_steps=steps, guidance_scale=guidance,
                               max_sequence_length=MAX_SEQUENCE_LENGTH, generator=generator,
                               output_type="pil")
        return result.images[0]

    def recover(self) -> None:
        """After CUDA OOM or a CUDA error: give back the cached blocks (the worker is
        replaced anyway; this lets the jobs already in flight fail cleanly)."""
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def wants_fp8(env: Mapping[str, str]) -> bool:
    return env.get("STORYREEL_FP8", "").strip().lower() in ("1", "true", "yes")


def load(env: Mapping[str, str], *, device: str | None = None,
         total_gib: float | None = None) -> FluxBackend:
    """Check the GPU, log it, load the model where it fits. ``device``/``total_gib``:
    only for ``gpu_check.py`` (``cpu`` with a tiny model; a memory cap)."""
    started = time.perf_counter()
    source = find_model(env)
    fp8 = wants_fp8(env)
    if device is None or device == "cuda":
        card = find_card()
        log.info("GPU: %s", card.describe())
        where, total, capability, card_name = torch.device("cuda"), card.total_gib, \
            card.capability, card.name
        if fp8:
            try:
                import torchao  # noqa: F401
            except ImportError as exc:
                raise WorkerConfigError("STORYREEL_FP8=1 needs torchao in the image") from exc
    else:
        where, total, capability, card_name = torch.device(device), 0.0, (0, 0), device
    if total_gib is not None:
        total = total_gib
    placement = choose_placement(env, total, fp8)
    if placement == "offload" and fp8:  # fp8 tensors are not streamed: offload in bf16
        log.warning("STORYREEL_FP8 is ignored with STORYREEL_CPU_OFFLOAD=1: the offloaded "
                    "transformer streams in bf16")
        fp8 = False
    log.info("loading %s (%s) from %s: placement %s, transformer %s", source.model_id,
             source.how, source.path, placement, "fp8" if fp8 else "bf16")
    pipe = read_pipeline(str(source.path), where, placement, capability if fp8 else None)
    load_s = time.perf_counter() - started
    if where.type == "cuda":
        free, _ = torch.cuda.mem_get_info(0)
        log.info("loaded in %.1f s; %.1f GiB free on the card", load_s, free / 2**30)
    return FluxBackend(pipe, device=where, model=source.model_id, placement=placement, fp8=fp8,
                       limits=limits_for(total, offloaded=placement == "offload",
                                         card=card_name),
                       load_s=load_s)
