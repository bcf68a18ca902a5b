"""A blob store in a local folder (the embedded default).

Writes are atomic: a temporary file in the same folder, then a rename, so a
crash never leaves half an image under a real key. File I/O runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tempfile
from pathlib import Path

from app.core.errors import StorageError
from app.core.files import PRIVATE_DIR, disk_error, private_dir
from app.core.storage import BlobInfo, ObjectNotFound, check_key


class LocalBlobStore:
    kind = "local"

    def __init__(self, root: Path, bucket: str = "local") -> None:
        self.root = Path(root).resolve()
        self.bucket = bucket

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):  # belt and braces after check_key
            raise StorageError(f"invalid object key {key!r}: outside the store")
        return path

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def put(self, key: str, data: bytes, content_type: str = "image/png") -> BlobInfo:
        path = self._path(key)
        await asyncio.to_thread(_write_atomic, path, data, self.root)
        return BlobInfo(key=key, size=len(data), content_type=content_type)

    async def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFound(key, f"the local folder {self.root}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc.strerror}") from None

    async def get_to_file(self, key: str, path: Path) -> Path:
        data = await self.get_bytes(key)
        await asyncio.to_thread(_write_atomic, Path(path), data, Path(path).parent)
        return Path(path)

    async def head(self, key: str) -> BlobInfo | None:
        path = self._path(key)
        try:
            st = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None  # a folder of keys, not an object
        return BlobInfo(key=key, size=st.st_size)

    async def list(self, prefix: str = "") -> list[str]:
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> list[str]:
        if not self.root.exists():
            return []
        keys = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith("."):
                    continue  # temporary files of writes in progress
                key = (Path(dirpath) / name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    async def delete_many(self, keys: list[str]) -> int:
        paths = [self._path(k) for k in keys]
        return await asyncio.to_thread(_unlink_all, paths)

    async def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        """A ``file:`` URI of the object (local files need no signature).

        Like R2's, it does not check that the object exists.
        """
        return self._path(key).as_uri()

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        try:
            private_dir(self.root)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as exc:
            error = disk_error(exc, self.root)
            if error is not None:
                raise error from None
            raise StorageError(
                f"cannot write to the blob folder {self.root}: {exc.strerror}; "
                "free some space or point STORYREEL_HOME at a writable folder"
            ) from None

    async def aclose(self) -> None:
        return None


def _write_atomic(path: Path, data: bytes, root: Path | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename. A full,
    read-only or unwritable disk raises ``DiskError`` naming ``root`` (the store)."""
    try:
        _write_atomic_raw(path, data)
    except OSError as exc:
        error = disk_error(exc, root or path.parent)
        if error is not None:
            raise error from None
        raise


def _write_atomic_raw(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _unlink_all(paths: list[Path]) -> int:
    removed = 0
    for p in paths:
        try:
            p.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed

