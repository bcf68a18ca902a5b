"""Finding FLUX's weights: the baked folder, or RunPod's model cache in the Hugging Face
layout, where ``refs/main`` (not the alphabetically last hash) names the snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.worker.weights import (
    WeightsMissing,
    cached_snapshot,
    check_model_folder,
    find_model,
    model_id,
)

OLD = "f" * 40  # sorts last, but is not what refs/main names
NEW = "0" * 40


def diffusers_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model_index.json").write_text(json.dumps({
        "_class_name": "FluxPipeline", "scheduler": ["diffusers", "X"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "text_encoder_2": ["transformers", "T5EncoderModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "tokenizer_2": ["transformers", "T5TokenizerFast"],
        "transformer": ["diffusers", "FluxTransformer2DModel"],
        "vae": ["diffusers", "AutoencoderKL"]}))
    for part in ("transformer", "text_encoder", "text_encoder_2", "vae"):
        (root / part).mkdir()
        (root / part / "config.json").write_text("{}")
        (root / part / "model.safetensors").write_bytes(b"weights")
    return root


def cache(tmp_path: Path, model: str = "black-forest-labs/FLUX.1-schnell") -> Path:
    repo = tmp_path / "hub" / f"models--{model.replace('/', '--')}"
    for commit in (OLD, NEW):
        diffusers_folder(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(NEW + "\n")
    return repo


def test_the_cached_snapshot_is_the_one_refs_main_names(tmp_path):
    cache(tmp_path)
    source = find_model({"STORYREEL_MODEL_PATH": str(tmp_path / "absent")},
                        cache=tmp_path / "hub")
    assert source.how == "cached"
    assert source.path.name == NEW  # not OLD, the alphabetically last
    assert check_model_folder(source.path) == []


def test_a_pinned_revision_and_a_named_model(tmp_path):
    repo = cache(tmp_path, "someone/flux-tuned")
    env = {"STORYREEL_MODEL_PATH": str(tmp_path / "absent"), "MODEL_NAME": "someone/flux-tuned",
           "STORYREEL_MODEL_REVISION": OLD}
    assert model_id(env) == "someone/flux-tuned"
    assert find_model(env, cache=tmp_path / "hub").path == repo / "snapshots" / OLD
    assert model_id({"STORYREEL_MODEL_ID": "a/b", "MODEL_NAME": "c/d"}) == "a/b"


def test_the_baked_folder_comes_first(tmp_path):
    cache(tmp_path)
    baked = diffusers_folder(tmp_path / "models" / "flux")
    source = find_model({"STORYREEL_MODEL_PATH": str(baked)}, cache=tmp_path / "hub")
    assert (source.how, source.path) == ("baked", baked)


def test_a_cache_without_refs(tmp_path):
    repo = cache(tmp_path)
    (repo / "refs" / "main").unlink()
    with pytest.raises(WeightsMissing, match="refs/main is missing, so which of the 2 snapshots"):
        cached_snapshot(repo)
    (repo / "snapshots" / OLD / "model_index.json").unlink()
    for child in sorted((repo / "snapshots" / OLD).rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    (repo / "snapshots" / OLD).rmdir()
    assert cached_snapshot(repo) == repo / "snapshots" / NEW  # the only one


def test_refs_naming_an_absent_snapshot(tmp_path):
    repo = cache(tmp_path)
    (repo / "refs" / "main").write_text("1" * 40)
    with pytest.raises(WeightsMissing, match="revision main is commit 1111"):
        cached_snapshot(repo)


def test_a_half_fetched_cache_is_caught_before_loading(tmp_path):
    folder = cache(tmp_path) / "snapshots" / NEW
    blob = tmp_path / "blobs" / "abc"
    (folder / "vae" / "model.safetensors").unlink()
    (folder / "vae" / "model.safetensors").symlink_to(blob)  # the blob never arrived
    (folder / "text_encoder" / "model.safetensors").unlink()
    problems = check_model_folder(folder)
    assert problems == [f"{folder / 'text_encoder'} holds no .safetensors weights",
                        f"{folder / 'vae'} has links to missing files: model.safetensors",
                        f"{folder / 'vae'} holds no .safetensors weights"]
    assert check_model_folder(tmp_path) == [
        f"{tmp_path / 'model_index.json'} cannot be read: [Errno 2] No such file or directory: "
        f"'{tmp_path / 'model_index.json'}'"]
