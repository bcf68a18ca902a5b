"""The preview cache: verified downloads, LRU size bound, thumbnails, untrusted keys."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from app.core.errors import StorageError
from app.core.models import ImageRef
from app.core.settings import parse
from app.core.storage import BlobStore, ChecksumMismatch, ObjectNotFound
from app.core.storage.cache import PreviewCache, open_preview_cache
from app.core.storage.local import LocalBlobStore
from app.core.storage.r2 import R2BlobStore

from .s3_harness import ACCESS_KEY, SECRET_KEY, S3TestServer


def png(width: int = 1024, height: int = 576, mode: str = "RGB", shade: int = 0) -> bytes:
    im = Image.new(mode, (width, height), (shade, 80, 160, 200)[: len(mode)])
    for x in range(0, width, 64):  # some structure, so sizes differ per shade
        im.paste((255 - shade, x % 256, 40, 255)[: len(mode)], (x, 0, x + 8, height))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


async def stored_ref(store: BlobStore, key: str, data: bytes, *, sha: str | None = None,
                     width: int = 1024, height: int = 576) -> ImageRef:
    await store.put(key, data)
    return ImageRef(store=store.kind, bucket=store.bucket, key=key, width=width, height=height,
                    seed=1, sha256=hashlib.sha256(data).hexdigest() if sha is None else sha,
                    bytes=len(data))


def gets(server: S3TestServer) -> list:
    return [r for r in server.records if r.method == "GET"]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def cache(tmp_path: Path, r2_store: R2BlobStore) -> PreviewCache:
    return PreviewCache(tmp_path / "cache", r2_store)


# Downloads
async def test_r2_image_is_downloaded_once_verified_and_named_by_content(
    cache: PreviewCache, r2_store: R2BlobStore, s3_server: S3TestServer
) -> None:
    data = png()
    ref = await stored_ref(r2_store, "runs/r/shots/s/1.png", data)
    path = await cache.image_path(ref)
    assert path.read_bytes() == data
    assert path.name == f"{ref.sha256}.png" and path.is_relative_to(cache.root)
    assert await cache.image_path(ref) == path
    assert len(gets(s3_server)) == 1  # the second call was a cache hit
    assert await cache.usage() == len(data)


async def test_same_image_asked_for_at_once_is_downloaded_once(
    cache: PreviewCache, r2_store: R2BlobStore, s3_server: S3TestServer
) -> None:
    ref = await stored_ref(r2_store, "runs/r/shots/s/1.png", png())
    s3_server.set_latency(0.05)
    paths = await asyncio.gather(*(cache.image_path(ref) for _ in range(10)))
    assert len(set(paths)) == 1
    assert len(gets(s3_server)) == 1


async def test_one_caller_giving_up_does_not_cancel_the_others(
    cache: PreviewCache, r2_store: R2BlobStore, s3_server: S3TestServer
) -> None:
    data = png()
    ref = await stored_ref(r2_store, "runs/r/shots/s/1.png", data)
    s3_server.set_latency(0.1)
    impatient = asyncio.ensure_future(cache.image_path(ref))
    patient = asyncio.ensure_future(cache.image_path(ref))
    await asyncio.sleep(0.02)
    impatient.cancel()
    assert (await patient).read_bytes() == data
    assert impatient.cancelled()


async def test_checksum_mismatch_raises_and_keeps_nothing(
    cache: PreviewCache, r2_store: R2BlobStore
) -> None:
    ref = await stored_ref(r2_store, "runs/r/shots/s/1.png", png(), sha="ab" * 32)
    with pytest.raises(ChecksumMismatch) as caught:
        await cache.image_path(ref)
    assert caught.value.key == ref.key and "retry the shot" in str(caught.value)
    assert files_under(cache.root) == []  # neither the bad file nor a temporary
    with pytest.raises(ChecksumMismatch):
        await cache.thumbnail_path(ref)
    assert files_under(cache.root) == []


async def test_unknown_checksum_is_named_by_location(
    cache: PreviewCache, r2_store: R2BlobStore
) -> None:
    data = png()
    ref = await stored_ref(r2_store, "runs/r/shots/s/1.png", data, sha="")
    path = await cache.image_path(ref)
    assert path.read_bytes() == data
    assert path.name.startswith("k") and ref.key not in str(path)


async def test_missing_object(cache: PreviewCache, r2_store: R2BlobStore) -> None:
    ref = ImageRef(store="r2", bucket=r2_store.bucket, key="runs/r/gone.png", width=1,
                   height=1, seed=0, sha256="cd" * 32, bytes=1)
    with pytest.raises(ObjectNotFound):
        await cache.image_path(ref)
    assert files_under(cache.root) == []


async def test_refs_of_an_unconfigured_store_say_what_to_do(tmp_path: Path) -> None:
    cache = PreviewCache(tmp_path / "cache", LocalBlobStore(tmp_path / "blobs"))
    ref = ImageRef(store="r2", bucket="elsewhere", key="runs/r/x.png", width=1, height=1,
                   seed=0, sha256="", bytes=1)
    with pytest.raises(StorageError, match=r"R2 bucket 'elsewhere'.*R2_"):
        await cache.image_path(ref)


# Images in the local store are used in place, but still verified.
async def test_local_images_are_their_own_files_and_verified(tmp_path: Path) -> None:
    local = LocalBlobStore(tmp_path / "blobs")
    cache = PreviewCache(tmp_path / "cache", local)
    data = png()
    ref = await stored_ref(local, "runs/r/shots/s/1.png", data)
    path = await cache.image_path(ref)
    assert path == local.local_path(ref.key) and path.read_bytes() == data
    assert files_under(cache.root) == []  # not copied

    path.write_bytes(data + b"tampered")
    with pytest.raises(ChecksumMismatch):
        await cache.image_path(ref)
    path.unlink()
    with pytest.raises(ObjectNotFound):
        await cache.image_path(ref)


async def test_open_preview_cache_reads_r2_and_older_local_images(
    tmp_path: Path, s3_server: S3TestServer, bucket: str, aioboto3_session
) -> None:
    settings = parse({"STORYREEL_HOME": str(tmp_path), "R2_ENDPOINT_URL": s3_server.endpoint_url,
                      "R2_ACCESS_KEY_ID": ACCESS_KEY, "R2_SECRET_ACCESS_KEY": SECRET_KEY,
                      "R2_BUCKET": bucket}, home=tmp_path)
    r2 = R2BlobStore.from_settings(settings, session=aioboto3_session)
    try:
        cache = open_preview_cache(settings, r2)
        assert cache.root == settings.cache_dir.resolve()
        cloud = await stored_ref(r2, "runs/new/shots/s/1.png", png(shade=10))
        old = await stored_ref(LocalBlobStore(settings.blobs_dir), "runs/old/shots/s/1.png",
                               png(shade=20))
        assert (await cache.image_path(cloud)).is_relative_to(settings.cache_dir)
        assert (await cache.image_path(old)).is_relative_to(settings.blobs_dir)
    finally:
        await r2.aclose()


# Untrusted keys and checksums never choose a path.
EVIL_KEYS = ["../../x", "../../../../tmp/evil.png", "/etc/passwd", "/abs/runs/x.png",
             "runs/../../x.png", "runs\\..\\x.png"]


@pytest.mark.parametrize("key", EVIL_KEYS)
async def test_untrusted_keys_never_write_outside(
    tmp_path: Path, blob_store: BlobStore, key: str
) -> None:
    store = blob_store  # the local folder and R2, each in turn
    cache = PreviewCache(tmp_path / "cache", store)
    ref = ImageRef(store=store.kind, bucket=store.bucket, key=key, width=1, height=1, seed=0,
                   sha256="", bytes=1)
    with pytest.raises(StorageError):
        await cache.image_path(ref)
    with pytest.raises(StorageError):
        await cache.thumbnail_path(ref)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("sha", ["../../../evil", "/etc/passwd", "zz" * 32, "ab" * 31])
async def test_malformed_checksums_are_refused(
    cache: PreviewCache, r2_store: R2BlobStore, tmp_path: Path, sha: str
) -> None:
    ref = await stored_ref(r2_store, "runs/r/shots/s/1.png", png(64, 36), sha=sha)
    with pytest.raises(StorageError, match="malformed"):
        await cache.image_path(ref)
    with pytest.raises(StorageError, match="malformed"):
        await cache.thumbnail_path(ref)
    assert files_under(tmp_path) == []


# The size bound
async def test_least_recently_used_images_are_evicted(
    tmp_path: Path, r2_store: R2BlobStore
) -> None:
    images = [png(256, 144, shade=40 * i) for i in range(4)]
    refs = [await stored_ref(r2_store, f"runs/r/shots/s{i}/1.png", d)
            for i, d in enumerate(images)]
    limit = sum(len(d) for d in images[:3])
    cache = PreviewCache(tmp_path / "cache", r2_store, max_bytes=limit)
    a, b, c, d = refs
    path_a = await cache.image_path(a)
    path_b = await cache.image_path(b)
    path_c = await cache.image_path(c)
    await cache.image_path(a)  # a is now more recent than b
    path_d = await cache.image_path(d)
    assert path_a.exists() and path_c.exists() and path_d.exists()
    assert not path_b.exists()  # the least recently used went
    assert await cache.usage() <= limit
    assert (await cache.image_path(b)).exists()  # and comes back on demand


async def test_recency_survives_a_restart(tmp_path: Path, r2_store: R2BlobStore) -> None:
    images = [png(256, 144, shade=40 * i) for i in range(3)]
    refs = [await stored_ref(r2_store, f"runs/r/shots/s{i}/1.png", d)
            for i, d in enumerate(images)]
    first = PreviewCache(tmp_path / "cache", r2_store)
    paths = [await first.image_path(r) for r in refs[:2]]
    os.utime(paths[0], ns=(2_000_000_000_000_000_000, 2_000_000_000_000_000_000))  # newest
    os.utime(paths[1], ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    limit = len(images[0]) + len(images[2]) + 10
    again = PreviewCache(tmp_path / "cache", r2_store, max_bytes=limit)
    assert await again.usage() == len(images[0]) + len(images[1])
    await again.image_path(refs[2])
    assert paths[0].exists() and not paths[1].exists()


async def test_clear(cache: PreviewCache, r2_store: R2BlobStore) -> None:
    ref = await stored_ref(r2_store, "runs/r/shots/s/1.png", png())
    await cache.thumbnail_path(ref)
    assert await cache.usage() > 0
    await cache.clear()
    assert await cache.usage() == 0 and files_under(cache.root) == []


# Thumbnails
async def test_thumbnail_is_a_small_jpeg_made_in_a_worker_thread(
    cache: PreviewCache, r2_store: R2BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.core.storage.cache as cache_module

    threads: list[threading.Thread] = []
    real = cache_module._write_thumbnail

    def spy(*args):
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(cache_module, "_write_thumbnail", spy)
    ref = await stored_ref(r2_store, "runs/r/shots/s/1.png", png(1024, 576))
    path = await cache.thumbnail_path(ref)
    with Image.open(path) as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (320, 180))
    assert threads and all(t is not threading.main_thread() for t in threads)

    assert await cache.thumbnail_path(ref) == path  # cached: not made again
    assert len(threads) == 1
    wide = await cache.thumbnail_path(ref, width=640)
    with Image.open(wide) as im:
        assert im.size == (640, 360)


async def test_thumbnail_of_transparent_and_small_images(
    cache: PreviewCache, r2_store: R2BlobStore
) -> None:
    clear = await stored_ref(r2_store, "runs/r/shots/a/1.png",
                             png(800, 400, mode="RGBA"), width=800, height=400)
    with Image.open(await cache.thumbnail_path(clear)) as im:
        assert im.mode == "RGB" and im.size == (320, 160)
    small = await stored_ref(r2_store, "runs/r/shots/b/1.png", png(200, 100), width=200,
                             height=100)
    with Image.open(await cache.thumbnail_path(small)) as im:
        assert im.size == (200, 100)  # never enlarged


async def test_thumbnail_of_something_not_an_image(
    cache: PreviewCache, r2_store: R2BlobStore
) -> None:
    ref = await stored_ref(r2_store, "runs/r/shots/s/1.png", b"not a picture at all")
    with pytest.raises(StorageError, match="not a readable picture"):
        await cache.thumbnail_path(ref)
    assert not list((cache.root / "thumbs").rglob("*.jpg"))


async def test_thumbnails_of_local_images(tmp_path: Path) -> None:
    local = LocalBlobStore(tmp_path / "blobs")
    cache = PreviewCache(tmp_path / "cache", local)
    ref = await stored_ref(local, "runs/r/shots/s/1.png", png())
    path = await cache.thumbnail_path(ref)
    assert path.is_relative_to(cache.root / "thumbs")
    with Image.open(path) as im:
        assert im.size == (320, 180)
