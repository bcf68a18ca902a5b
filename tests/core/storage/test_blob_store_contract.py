"""One interface suite, run against every BlobStore: the local folder and R2 (moto)."""

from __future__ import annotations

import asyncio
import os
import urllib.request
from pathlib import Path

import pytest

from app.core.errors import StorageError
from app.core.renderers import shot_key
from app.core.storage import BlobInfo, BlobStore, ObjectNotFound

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _escaped(root: Path, key: str) -> bool:
    """Whether a file exists where a write of ``key`` escaping ``root`` would have landed."""
    if key.startswith("/"):
        return False  # /etc/passwd exists anyway; the raised errors above prove no write
    target = os.path.normpath(os.path.join(root, key.replace("\\", "/")))
    return os.path.exists(target)


async def test_is_a_blob_store(blob_store: BlobStore) -> None:
    assert isinstance(blob_store, BlobStore)
    assert blob_store.kind in ("local", "r2")


async def test_put_then_read_back_every_way(blob_store: BlobStore, tmp_path: Path) -> None:
    key = shot_key("run1", "shot1", 1)  # the renderers' key scheme
    info = await blob_store.put(key, PNG)
    assert info == BlobInfo(key=key, size=len(PNG), content_type="image/png")

    assert await blob_store.get_bytes(key) == PNG
    out = await blob_store.get_to_file(key, tmp_path / "out" / "copy.png")
    assert out == tmp_path / "out" / "copy.png"
    assert out.read_bytes() == PNG
    assert [p.name for p in out.parent.iterdir()] == ["copy.png"]  # no temporary left

    head = await blob_store.head(key)
    assert head is not None and head.key == key and head.size == len(PNG)


async def test_put_overwrites(blob_store: BlobStore) -> None:
    await blob_store.put("runs/r/a.png", b"first")
    await blob_store.put("runs/r/a.png", b"second, longer")
    assert await blob_store.get_bytes("runs/r/a.png") == b"second, longer"


async def test_empty_object(blob_store: BlobStore) -> None:
    await blob_store.put("runs/r/empty.bin", b"", content_type="application/octet-stream")
    assert await blob_store.get_bytes("runs/r/empty.bin") == b""
    head = await blob_store.head("runs/r/empty.bin")
    assert head is not None and head.size == 0


async def test_object_larger_than_a_chunk(blob_store: BlobStore, tmp_path: Path) -> None:
    data = bytes(i % 251 for i in range(1_300_000))  # > 4 chunks of 256 KiB
    await blob_store.put("runs/r/big.png", data)
    assert await blob_store.get_bytes("runs/r/big.png") == data
    path = await blob_store.get_to_file("runs/r/big.png", tmp_path / "big.png")
    assert path.read_bytes() == data


async def test_head_of_missing_object_is_none(blob_store: BlobStore) -> None:
    assert await blob_store.head("runs/nope/shots/x/1.png") is None
    await blob_store.put("runs/r/shots/s/1.png", PNG)
    assert await blob_store.head("runs/r/shots") is None  # a prefix is not an object
    with pytest.raises(ObjectNotFound):
        await blob_store.get_bytes("runs/r/shots")


async def test_missing_object_raises_object_not_found(blob_store: BlobStore,
                                                      tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        await blob_store.get_bytes("runs/nope/shots/x/1.png")
    assert "runs/nope/shots/x/1.png" in str(caught.value)
    assert "retry the shot" in str(caught.value)  # says what to do
    with pytest.raises(ObjectNotFound):
        await blob_store.get_to_file("runs/nope/shots/x/1.png", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


async def test_list_by_prefix_is_sorted_and_exact(blob_store: BlobStore) -> None:
    keys = ["runs/b/shots/s1/1.png", "runs/a/shots/s2/1.png", "runs/a/shots/s1/2.png",
            "runs/ab/shots/s1/1.png", "other/x.png"]
    await asyncio.gather(*(blob_store.put(k, k.encode()) for k in keys))
    assert await blob_store.list("runs/a/") == ["runs/a/shots/s1/2.png",
                                                "runs/a/shots/s2/1.png"]
    assert await blob_store.list("runs/") == sorted(k for k in keys if k.startswith("runs/"))
    assert await blob_store.list() == sorted(keys)
    assert await blob_store.list("runs/zzz/") == []


async def test_delete_many(blob_store: BlobStore) -> None:
    keys = [f"runs/r/shots/s{i}/1.png" for i in range(5)]
    await asyncio.gather(*(blob_store.put(k, b"x") for k in keys))
    assert await blob_store.delete_many(keys[:3]) == 3
    assert await blob_store.list("runs/r/") == keys[3:]
    assert await blob_store.head(keys[0]) is None
    # Missing keys are not an error (whether they count differs: S3 cannot tell).
    assert await blob_store.delete_many(["runs/r/never.png"]) in (0, 1)
    assert await blob_store.delete_many([]) == 0


async def test_presigned_url_reads_the_object(blob_store: BlobStore) -> None:
    await blob_store.put("runs/r/p.png", PNG)
    url = await blob_store.presigned_url("runs/r/p.png", expires_in=60)
    data = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    assert data == PNG


async def test_check_passes_on_a_working_store(blob_store: BlobStore) -> None:
    await blob_store.check()


@pytest.mark.parametrize("key", [
    "../../x", "runs/../../../etc/passwd", "/etc/passwd", "/abs/runs/x.png", "runs//x.png",
    "runs/./x.png", "runs\\x.png", "", "runs/.hidden", "C:/x.png", "runs/x.png\x00",
    "runs/x.png\n", "runs/x y.png", "runs/x.png/",
])
async def test_untrusted_keys_are_refused_before_any_io(blob_store: BlobStore, key: str,
                                                         tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        await blob_store.put(key, b"evil")
    with pytest.raises(StorageError):
        await blob_store.get_bytes(key)
    with pytest.raises(StorageError):
        await blob_store.get_to_file(key, tmp_path / "out.png")
    with pytest.raises(StorageError):
        await blob_store.head(key)
    with pytest.raises(StorageError):
        await blob_store.delete_many([key])
    with pytest.raises(StorageError):
        await blob_store.presigned_url(key)
    assert await blob_store.list() == []  # nothing was written anywhere in the store
    assert _files_under(tmp_path) == []
    if blob_store.kind == "local":
        assert not _escaped(blob_store.root, key)


async def test_local_path_only_for_local(blob_store: BlobStore) -> None:
    await blob_store.put("runs/r/l.png", PNG)
    path = blob_store.local_path("runs/r/l.png")
    if blob_store.kind == "local":
        assert path is not None and path.read_bytes() == PNG
    else:
        assert path is None
