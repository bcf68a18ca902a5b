"""A full or read-only disk under the blob store and the preview cache gives a
``DiskError`` that names the folder and what to do, on a real tmpfs."""

from __future__ import annotations

import errno

import pytest

from app.core.errors import DiskError
from app.core.files import disk_error
from app.core.storage.local import LocalBlobStore
from tests.fakes.disks import tmpfs

BIG = b"\x89PNG" + bytes(200_000)


async def test_a_full_disk_is_a_disk_error_naming_the_folder(tmp_path):
    with tmpfs(tmp_path / "blobs", "64k") as folder:
        store = LocalBlobStore(folder)
        with pytest.raises(DiskError) as caught:
            await store.put("runs/r1/shots/s1/1.png", BIG)
        assert caught.value.errno == errno.ENOSPC
        assert str(caught.value) == f"the disk holding {folder} is full: free some space"
        assert await store.list() == []  # no temporary file is left behind


async def test_a_read_only_disk_is_a_disk_error_saying_so(tmp_path):
    with tmpfs(tmp_path / "blobs", "64k", read_only=True) as folder:
        store = LocalBlobStore(folder)
        with pytest.raises(DiskError, match="is read-only: make it writable") as caught:
            await store.put("runs/r1/shots/s1/1.png", b"png")
        assert caught.value.errno == errno.EROFS
        with pytest.raises(DiskError, match="read-only"):
            await store.check()


async def test_the_preview_cache_on_a_full_disk_says_so(tmp_path):
    from app.core.models import ImageRef
    from app.core.storage.cache import PreviewCache

    source = LocalBlobStore(tmp_path / "blobs")
    await source.put("runs/r1/shots/s1/1.png", BIG)

    class Remote(LocalBlobStore):  # a store that is not local: its images are downloaded
        kind = "r2"

        def local_path(self, key):
            return None

    ref = ImageRef(store="r2", bucket="local", key="runs/r1/shots/s1/1.png", width=1,
                   height=1, seed=1, sha256="", bytes=len(BIG))
    with tmpfs(tmp_path / "cache", "64k") as folder:
        cache = PreviewCache(folder, Remote(tmp_path / "blobs"))
        with pytest.raises(DiskError, match=f"the disk holding {folder} is full"):
            await cache.image_path(ref)


@pytest.mark.parametrize(("code", "words"), [
    (errno.ENOSPC, "is full: free some space"),
    (errno.EDQUOT, "disk quota"),
    (errno.EFBIG, "file-size limit"),
    (errno.EROFS, "is read-only"),
    (errno.EACCES, "permission denied"),
])
def test_each_disk_errno_has_its_own_advice(tmp_path, code, words):
    error = disk_error(OSError(code, "x"), tmp_path / "file.png")
    assert isinstance(error, DiskError) and words in str(error)
    assert error.path == str(tmp_path)


def test_other_os_errors_are_not_disk_errors(tmp_path):
    assert disk_error(FileNotFoundError(errno.ENOENT, "gone"), tmp_path) is None
