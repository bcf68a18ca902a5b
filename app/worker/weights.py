"""Where the worker finds FLUX.1-schnell's weights, checked before anything loads them.

Two ways to deliver them (packaging/worker/README.md):

1. **RunPod cached models** (recommended): the endpoint's *Model* setting names the
   hub repository; RunPod puts it on the host before the worker starts, under
   ``/runpod-volume/huggingface-cache/hub/models--<org>--<name>/`` in the Hugging
   Face cache layout. The snapshot used is the one ``refs/main`` names (or the
   revision ``STORYREEL_MODEL_REVISION`` names), never "the alphabetically last
   hash", which is an arbitrary one when several are cached.
2. **Baked into the image** (``--target worker-baked``): a plain diffusers folder at
   ``STORYREEL_MODEL_PATH`` (``/models/flux-schnell``).

Nothing here imports torch or a Hugging Face library, so it runs (and is tested)
anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL_ID = "black-forest-labs/FLUX.1-schnell"
DEFAULT_MODEL_PATH = "/models/flux-schnell"
RUNPOD_CACHE = "/runpod-volume/huggingface-cache/hub"
# FluxPipeline's components that carry weights, and where they are.
WEIGHTED = ("transformer", "text_encoder", "text_encoder_2", "vae")
_HASH = re.compile(r"^[0-9a-f]{40}$")


class WeightsMissing(RuntimeError):
    """The weights are not where the worker looks: the message says where it looked."""


@dataclass(frozen=True, slots=True)
class ModelSource:
    model_id: str
    path: Path
    how: str  # "baked" or "cached"


def model_id(env: Mapping[str, str]) -> str:
    """``STORYREEL_MODEL_ID``, else ``MODEL_NAME`` (RunPod's cached-model examples use
    it), else FLUX.1-schnell."""
    for name in ("STORYREEL_MODEL_ID", "MODEL_NAME"):
        value = env.get(name, "").strip()
        if value:
            return value
    return DEFAULT_MODEL_ID


def cache_folder(model: str, cache: Path) -> Path:
    return cache / f"models--{model.replace('/', '--')}"


def cached_snapshot(repo: Path, revision: str = "main") -> Path:
    """The snapshot folder of ``repo`` (a ``models--org--name`` folder) for ``revision``:
    a ref name (read from ``refs/<revision>``) or a commit hash."""
    snapshots = repo / "snapshots"
    if _HASH.match(revision):
        commit = revision
    else:
        ref = repo / "refs" / revision
        if not ref.is_file():
            present = sorted(p.name for p in snapshots.iterdir()) if snapshots.is_dir() else []
            if len(present) == 1:  # a cache without refs (copied by hand): its only snapshot
                return snapshots / present[0]
            raise WeightsMissing(f"{ref} is missing, so which of the {len(present)} snapshots "
                                 f"under {snapshots} to use is unknown")
        commit = ref.read_text(encoding="utf-8").strip()
    folder = snapshots / commit
    if not folder.is_dir():
        raise WeightsMissing(f"revision {revision} is commit {commit}, but {folder} is missing")
    return folder


def find_model(env: Mapping[str, str], *, cache: str | Path = RUNPOD_CACHE) -> ModelSource:
    """The folder to load from: ``STORYREEL_MODEL_PATH`` when it holds a diffusers
    folder (the baked image), else RunPod's model cache. ``WeightsMissing`` names both."""
    model = model_id(env)
    baked = Path(env.get("STORYREEL_MODEL_PATH", "").strip() or DEFAULT_MODEL_PATH)
    if (baked / "model_index.json").is_file():
        return ModelSource(model, baked, "baked")
    repo = cache_folder(model, Path(cache))
    if not repo.is_dir():
        raise WeightsMissing(
            f"no weights for {model}: {baked} has no model_index.json and RunPod's model cache "
            f"has no {repo} (set the endpoint's Model to {model}, or use the baked image)")
    revision = env.get("STORYREEL_MODEL_REVISION", "").strip() or "main"
    return ModelSource(model, cached_snapshot(repo, revision), "cached")


def check_model_folder(folder: Path) -> list[str]:
    """What is wrong with a diffusers FLUX folder: missing index, missing component
    folders, no weights, dangling links (a cache whose blobs were not all fetched)."""
    index = folder / "model_index.json"
    try:
        components = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{index} cannot be read: {exc}"]
    problems = []
    for name in WEIGHTED:
        if name not in components:
            problems.append(f"{index} names no {name}")
            continue
        part = folder / name
        if not part.is_dir():
            problems.append(f"{part} is missing")
            continue
        files = list(part.iterdir())
        broken = [f.name for f in files if not f.exists()]  # symlinks to absent blobs
        if broken:
            problems.append(f"{part} has links to missing files: {', '.join(sorted(broken))}")
        if not any(f.name.endswith(".safetensors") and f.exists() for f in files):
            problems.append(f"{part} holds no .safetensors weights")
    return problems
