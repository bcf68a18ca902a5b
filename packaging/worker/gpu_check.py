"""Check the shot worker's GPU backend on a GPU, with nothing downloaded.

Builds FLUX.1-schnell at full size from its configuration (written below) with random
bf16 weights, saves it as a diffusers folder (about 34 GB, once: ``--folder``), then
runs the unmodified backend (``app.worker.gpu.load`` and ``FluxBackend.render``) and
the handler's async path on it, and prints:

- load time, warm latency at 1024x576 and 1024x1024, peak GPU memory;
- the fp8 transformer (torchao) against bf16;
- encode + upload overlapping the next render (two jobs in flight, as on RunPod),
  against one job at a time; the upload goes to a local folder with a delay standing
  in for R2 (``--upload-ms``);
- the offload placement under a memory cap (``--cap-gib``, default 24: a 24 GB card).

Random weights give real latency and memory, not real images. Needs torch, diffusers,
transformers, accelerate (torchao for fp8) and this repository's ``app`` package
(pillow and pydantic); no network. ``make worker-wheels`` downloads what a GPU machine
without them needs (packaging/worker/README.md).

``--tiny --device cpu``: the same steps on a tiny random configuration on the CPU (the
test suite runs it); fp8 and the memory cap need CUDA and are skipped there.

Usage: python packaging/worker/gpu_check.py [--tiny] [--device cuda|cpu] [--folder DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository's app package

import torch

# FLUX.1-schnell's published component configurations (diffusers layout).
FULL = {
    "transformer": {"attention_head_dim": 128, "guidance_embeds": False, "in_channels": 64,
                    "joint_attention_dim": 4096, "num_attention_heads": 24, "num_layers": 19,
                    "num_single_layers": 38, "patch_size": 1, "pooled_projection_dim": 768,
                    "axes_dims_rope": [16, 56, 56]},
    "vae": {"act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
            "down_block_types": ["DownEncoderBlock2D"] * 4, "force_upcast": True,
            "in_channels": 3, "latent_channels": 16, "layers_per_block": 2,
            "mid_block_add_attention": True, "norm_num_groups": 32, "out_channels": 3,
            "sample_size": 1024, "scaling_factor": 0.3611, "shift_factor": 0.1159,
            "up_block_types": ["UpDecoderBlock2D"] * 4, "use_post_quant_conv": False,
            "use_quant_conv": False},
    "text_encoder": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                     "num_hidden_layers": 12, "max_position_embeddings": 77,
                     "vocab_size": 49408, "hidden_act": "quick_gelu", "projection_dim": 768,
                     "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1},
    "text_encoder_2": {"d_model": 4096, "d_ff": 10240, "d_kv": 64, "num_heads": 64,
                       "num_layers": 24, "vocab_size": 32128, "feed_forward_proj": "gated-gelu",
                       "relative_attention_num_buckets": 32,
                       "relative_attention_max_distance": 128, "dense_act_fn": "gelu_new",
                       "is_gated_act": True, "layer_norm_epsilon": 1e-6,
                       "pad_token_id": 0, "eos_token_id": 1},
    "scheduler": {"base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096,
                  "max_shift": 1.15, "num_train_timesteps": 1000, "shift": 1.0,
                  "use_dynamic_shifting": False},
    "sizes": [(1024, 576), (1024, 1024)],
}
# The same shapes, tiny: for the CPU run in the tests.
TINY = {
    **FULL,
    "transformer": {**FULL["transformer"], "attention_head_dim": 16, "in_channels": 16,
                    "joint_attention_dim": 32, "num_attention_heads": 2, "num_layers": 1,
                    "num_single_layers": 1, "pooled_projection_dim": 32,
                    "axes_dims_rope": [4, 4, 8]},
    "vae": {**FULL["vae"], "block_out_channels": [8, 8, 8, 8], "latent_channels": 4,
            "layers_per_block": 1, "norm_num_groups": 4, "sample_size": 64},
    "text_encoder": {**FULL["text_encoder"], "hidden_size": 32, "intermediate_size": 37,
                     "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000,
                     "projection_dim": 32},
    "text_encoder_2": {**FULL["text_encoder_2"], "d_model": 32, "d_ff": 37, "d_kv": 8,
                       "num_heads": 4, "num_layers": 2, "vocab_size": 1000},
    "sizes": [(256, 256)],  # CPU convolutions in bf16 are slow: one small size
}
WORDS = ("a wide shot of harbour at dawn boats rest on still water close up medium her face "
         "lamp light night interior kitchen exterior street rain camera pan dolly static").split()
MODEL_ID = "black-forest-labs/FLUX.1-schnell"
READY = "storyreel-random-flux.json"  # written last: a folder without it is rebuilt


def say(label: str, value: str) -> None:
    print(f"{label:<34} {value}", flush=True)


def tokenizer(max_length: int, *, pad: str, eos: str):
    """A word-level tokenizer built in memory (no vocabulary to download): the encoders
    see the same padded shapes as with the real ones."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([pad, eos, "<unk>", *WORDS])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token=pad,
                                   eos_token=eos, model_max_length=max_length)


def build_folder(folder: Path, config: dict, device: str) -> None:
    """A diffusers FLUX folder with random bf16 weights, one component at a time (the
    largest, the 23.8 GB transformer, is the peak), built on ``device``."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    if (folder / READY).is_file():
        return
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    torch.manual_seed(0)
    makers = {
        "transformer": lambda: FluxTransformer2DModel(**config["transformer"]),
        "vae": lambda: AutoencoderKL(**config["vae"]),
        "text_encoder": lambda: CLIPTextModel(CLIPTextConfig(**config["text_encoder"])),
        "text_encoder_2": lambda: T5EncoderModel(T5Config(**config["text_encoder_2"])),
    }
    default = torch.get_default_dtype()
    for name, make in makers.items():
        torch.set_default_dtype(torch.bfloat16)  # built in bf16: no fp32 copy at full size
        try:
            with torch.device(device):
                model = make()
        finally:
            torch.set_default_dtype(default)
        model.save_pretrained(folder / name)
        del model
        if device == "cuda":
            torch.cuda.empty_cache()
    FlowMatchEulerDiscreteScheduler(**config["scheduler"]).save_pretrained(folder / "scheduler")
    tokenizer(77, pad="<|endoftext|>", eos="<|eot|>").save_pretrained(folder / "tokenizer")
    tokenizer(512, pad="<pad>", eos="</s>").save_pretrained(folder / "tokenizer_2")
    index = {"_class_name": "FluxPipeline", "_diffusers_version": "0.42.1",
             "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
             "text_encoder": ["transformers", "CLIPTextModel"],
             "text_encoder_2": ["transformers", "T5EncoderModel"],
             "tokenizer": ["transformers", "PreTrainedTokenizerFast"],
             "tokenizer_2": ["transformers", "PreTrainedTokenizerFast"],
             "transformer": ["diffusers", "FluxTransformer2DModel"],
             "vae": ["diffusers", "AutoencoderKL"]}
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    (folder / READY).write_text(json.dumps({"random": True}))
    say("random weights written", f"{folder} in {time.perf_counter() - started:.1f} s")


def env_for(folder: Path, **extra: str) -> dict[str, str]:
    return {"STORYREEL_MODEL_PATH": str(folder), "STORYREEL_MODEL_ID": MODEL_ID,
            "STORYREEL_CPU_OFFLOAD": "0", **extra}


def peak_gib(device: str) -> str:
    if device != "cuda":
        return "n/a on CPU"
    return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB allocated, " \
           f"{torch.cuda.max_memory_reserved() / 2**30:.2f} GiB reserved"


def reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def latency(backend, sizes, device: str, repeats: int) -> dict[tuple[int, int], float]:
    """Median seconds per image at each size, after one warm-up render per size."""
    out = {}
    for width, height in sizes:
        backend.render(prompt="warm up", negative_prompt="", width=width, height=height,
                       seed=1, steps=4, guidance=0.0)
        times = []
        for seed in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            backend.render(prompt="a wide shot of a harbour at dawn", negative_prompt="",
                           width=width, height=height, seed=seed, steps=4, guidance=0.0)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
        out[(width, height)] = statistics.median(times)
    return out


def free(backend, device: str) -> None:
    backend.pipe = None
    import gc

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def run_backend(label: str, env: dict[str, str], args, config: dict, **load_kwargs):
    from app.worker import gpu

    reset_peak(args.device)
    started = time.perf_counter()
    backend = gpu.load(env, device=args.device, **load_kwargs)
    say(f"{label}: load", f"{time.perf_counter() - started:.1f} s, placement "
                          f"{backend.placement}, limits {backend.limits.max_pixels / 1e6:.2f} MP "
                          f"/ {backend.limits.max_steps} steps")
    if args.device == "cuda":
        say(f"{label}: on the card after load", f"{torch.cuda.memory_allocated() / 2**30:.2f} GiB"
                                                f" (load peak {peak_gib(args.device)})")
    reset_peak(args.device)  # from here: the peak of rendering
    for (width, height), seconds in latency(backend, config["sizes"], args.device,
                                            args.repeats).items():
        say(f"{label}: {width}x{height}, 4 steps", f"{seconds:.3f} s (median of {args.repeats})")
    say(f"{label}: peak GPU memory", f"{peak_gib(args.device)} while rendering")
    return backend


class FolderUploader:
    """Stands in for R2: writes each PNG into a folder after ``delay_s`` (a network's
    round trip), never over an existing file (as the conditional put)."""

    def __init__(self, folder: Path, delay_s: float) -> None:
        self.folder = folder
        self.delay_s = delay_s
        self.bucket = "storyreel"

    def check_bucket(self, bucket: str) -> None:
        from app.worker.upload import UploadError

        if bucket != self.bucket:
            raise UploadError(f"this worker writes only to its own bucket, not to {bucket!r}")

    def put(self, bucket, key, data, *, metadata) -> None:
        time.sleep(self.delay_s)
        path = self.folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as out:  # fails if it exists
            out.write(data)


def overlap(backend, args, config: dict) -> None:
    """``--shots`` shots one at a time, then as many with two in flight (runpod's
    concurrency 2): the second way, each PNG's encoding and upload overlap the next render."""
    from app.worker.handler import ShotWorker

    width, height = config["sizes"][0]

    def jobs(tag: str):
        return [{"id": f"{tag}-{n}", "input": {
            "task": "shot", "prompt": "a wide shot of a harbour at dawn", "width": width,
            "height": height, "seed": n, "steps": 4, "guidance": 0.0,
            "output": {"bucket": "storyreel", "key": f"runs/check/shots/{tag}-{n}/1.png"}}}
            for n in range(args.shots)]

    with tempfile.TemporaryDirectory() as tmp:
        worker = ShotWorker(backend, FolderUploader(Path(tmp), args.upload_ms / 1000))

        async def serial():
            return [await worker.run(job) for job in jobs("serial")]

        async def two_in_flight():
            gate = asyncio.Semaphore(2)

            async def one(job):
                async with gate:
                    return await worker.run(job)

            return await asyncio.gather(*(one(job) for job in jobs("pair")))

        timings = {}
        for name, work in (("one at a time", serial), ("two in flight", two_in_flight)):
            started = time.perf_counter()
            answers = asyncio.run(work())
            timings[name] = time.perf_counter() - started
            bad = [a["error"] for a in answers if "error" in a]
            if bad:
                raise SystemExit(f"gpu_check: a job failed: {bad[0]}")
        encode = statistics.median(a["timings"]["encode_s"] for a in answers)
    say("encode (PNG level 1), per image", f"{encode:.3f} s at {width}x{height}")
    for name, seconds in timings.items():
        say(f"{args.shots} shots, {name}", f"{seconds:.2f} s (upload stand-in "
                                            f"{args.upload_ms} ms)")
    saved = timings["one at a time"] - timings["two in flight"]
    say("overlap saves", f"{saved:.2f} s over {args.shots} shots "
                         f"({saved / args.shots:.3f} s per shot)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny random configuration")
    parser.add_argument("--device", choices=("cuda", "cpu"),
                        default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--folder", type=Path, help="where the random weights are kept")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shots", type=int, default=4, help="shots in the overlap check")
    parser.add_argument("--upload-ms", type=int, default=150)
    parser.add_argument("--cap-gib", type=float, default=24.0,
                        help="the memory cap of the offload check")
    parser.add_argument("--no-fp8", action="store_true")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA GPU here; use --tiny --device cpu")
    config = TINY if args.tiny else FULL
    folder = args.folder or Path(tempfile.gettempdir()) / (
        "storyreel-flux-random-tiny" if args.tiny else "storyreel-flux-random")

    import diffusers
    import transformers

    say("torch", f"{torch.__version__} (CUDA {torch.version.cuda})")
    say("diffusers, transformers", f"{diffusers.__version__}, {transformers.__version__}")
    if args.device == "cuda":
        from app.worker.gpu import find_card

        say("card", find_card().describe())
    say("configuration", "tiny (random)" if args.tiny else "FLUX.1-schnell, full size (random)")
    build_folder(folder, config, args.device)

    backend = run_backend("bf16", env_for(folder), args, config)
    overlap(backend, args, config)
    free(backend, args.device)

    if args.device != "cuda":
        say("fp8", "skipped: needs a CUDA GPU")
    elif args.no_fp8:
        say("fp8", "skipped (--no-fp8)")
    else:
        fp8 = run_backend("fp8", env_for(folder, STORYREEL_FP8="1"), args, config)
        free(fp8, args.device)

    label = f"offload, cap {args.cap_gib:g} GiB"
    if args.device == "cuda":
        total = torch.cuda.get_device_properties(0).total_memory / 2**30
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.cap_gib / total))
        offloaded = run_backend(label, env_for(folder, STORYREEL_CPU_OFFLOAD="1"), args, config,
                                total_gib=args.cap_gib)
        torch.cuda.set_per_process_memory_fraction(1.0)
    else:
        offloaded = run_backend("offload (CPU)", env_for(folder, STORYREEL_CPU_OFFLOAD="1"),
                                args, config)
    free(offloaded, args.device)
    say("result", "ok")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "gpu_check"
    sys.exit(main())
