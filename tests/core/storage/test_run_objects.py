"""Deleting a run's objects and finding orphans, on the local folder and on R2."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.core.errors import StorageError
from app.core.renderers import shot_key
from app.core.storage import BlobStore
from app.core.storage.local import LocalBlobStore
from app.core.storage.run_objects import (
    Orphans,
    delete_orphans,
    delete_run_objects,
    find_orphans,
    run_prefix,
)


async def _plant(store: BlobStore, keys: list[str]) -> None:
    await asyncio.gather(*(store.put(k, b"img") for k in keys))


async def test_delete_run_objects_deletes_that_run_only(blob_store: BlobStore) -> None:
    mine = [shot_key("run-1", f"s{i}", a) for i in range(3) for a in (1, 2)]
    others = [shot_key("run-10", "s0", 1), shot_key("run-2", "s0", 1), "exports/run-1.pdf"]
    await _plant(blob_store, mine + others)
    assert await delete_run_objects(blob_store, "run-1") == len(mine)
    assert await blob_store.list() == sorted(others)  # run-10 shares a prefix, not a folder
    assert await delete_run_objects(blob_store, "run-1") == 0


async def test_find_and_delete_orphans(blob_store: BlobStore) -> None:
    known = [shot_key("kept", "s0", 1), shot_key("kept", "s1", 1)]
    lost = [shot_key("gone-a", "s0", 1), shot_key("gone-a", "s0", 2), shot_key("gone-b", "s3", 1)]
    foreign = ["notes/readme.txt", "runs-old/x.png"]
    await _plant(blob_store, known + lost + foreign)

    orphans = await find_orphans(blob_store, {"kept", "never-rendered"})
    assert orphans.run_ids == ["gone-a", "gone-b"]
    assert orphans.keys == sorted(lost)
    assert orphans

    assert await delete_orphans(blob_store, orphans) == len(lost)
    assert await blob_store.list() == sorted(known + foreign)  # others are not ours to judge
    assert not await find_orphans(blob_store, ["kept"])


async def test_no_orphans_in_an_empty_store(blob_store: BlobStore) -> None:
    assert await find_orphans(blob_store, []) == Orphans()
    assert await delete_orphans(blob_store, Orphans()) == 0


@pytest.mark.parametrize("run_id", ["", "..", "a/b", "../x", "/abs", ".hidden", "a\\b"])
async def test_bad_run_ids_are_refused(tmp_path: Path, run_id: str) -> None:
    store = LocalBlobStore(tmp_path / "blobs")  # checked before any store is asked
    await _plant(store, [shot_key("run-1", "s", 1)])
    with pytest.raises(StorageError):
        await delete_run_objects(store, run_id)
    assert await store.list() == [shot_key("run-1", "s", 1)]


def test_run_prefix() -> None:
    assert run_prefix("20261127-1200-abc") == "runs/20261127-1200-abc/"
