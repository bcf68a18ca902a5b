"""Blob stores hold the images of shots: a local folder, or Cloudflare R2.

Keys are untrusted (they come back from remote workers and from history), so
every store checks them with ``check_key`` before use.

``open_blob_store(settings)`` picks the store the settings describe: R2 when
the R2 variables are set, the local folder otherwise. Errors are typed
subclasses of ``StorageError`` whose messages say what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from app.core.errors import StorageError

if TYPE_CHECKING:
    from app.core.settings import Settings

_KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise ``StorageError``.

    Safe: ``/``-separated parts of letters, digits, ``.``, ``_`` and ``-``, no part
    empty or starting with a dot (so no ``..``), no absolute path, no backslash.
    """
    if not isinstance(key, str) or not key or len(key) > 1024:
        raise StorageError(f"invalid object key {key!r}: empty or too long")
    parts = key.split("/")
    if any(not _KEY_PART.fullmatch(p) for p in parts):  # fullmatch: no trailing newline
        raise StorageError(
            f"invalid object key {key!r}: only relative paths of letters, digits, '.', '_' "
            "and '-' are allowed"
        )
    return key


class ObjectNotFound(StorageError):
    """The object is not in the store (deleted, never written, or another bucket)."""

    def __init__(self, key: str, where: str) -> None:
        super().__init__(
            f"{key!r} is missing from {where}: it was deleted or never uploaded; if it is "
            "a shot's image, retry the shot to render it again"
        )
        self.key = key


class BucketNotFound(StorageError):
    def __init__(self, bucket: str, host: str) -> None:
        super().__init__(
            f"R2 bucket {bucket!r} does not exist at {host}: create it in the Cloudflare "
            "dashboard (R2 > Create bucket) or correct R2_BUCKET"
        )
        self.bucket = bucket


class StorageAuthError(StorageError):
    """The credentials were refused (unknown key id, wrong secret, or no permission)."""

    def __init__(self, host: str, code: str) -> None:
        super().__init__(
            f"R2 at {host} refused the credentials ({code}): check R2_ACCESS_KEY_ID and "
            "R2_SECRET_ACCESS_KEY, and that the API token has Object Read & Write on the bucket"
        )
        self.code = code


class StorageUnavailable(StorageError):
    """The store could not be reached, or kept failing with transient errors.

    ``retryable`` is true: trying again later may work.
    """

    retryable = True


class ChecksumMismatch(StorageError):
    """Downloaded bytes differ from the sha256 recorded when the image was made."""

    def __init__(self, key: str, expected: str, actual: str) -> None:
        super().__init__(
            f"image {key!r} does not match its recorded checksum (expected "
            f"{expected[:12]}…, got {actual[:12]}…): the stored object was changed or "
            "damaged; retry the shot to render it again"
        )
        self.key = key
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    content_type: str = "application/octet-stream"


@runtime_checkable
class BlobStore(Protocol):
    kind: str
    """``local`` or ``r2``."""
    bucket: str

    async def put(self, key: str, data: bytes, content_type: str = "image/png") -> BlobInfo: ...

    async def get_bytes(self, key: str) -> bytes: ...

    async def get_to_file(self, key: str, path: Path) -> Path: ...

    async def head(self, key: str) -> BlobInfo | None: ...

    async def list(self, prefix: str = "") -> list[str]: ...

    async def delete_many(self, keys: list[str]) -> int: ...

    def local_path(self, key: str) -> Path | None:
        """The file holding ``key`` when the store is a local folder, else None."""
        ...

    async def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        """A URL that reads ``key`` without credentials (R2), or a ``file:`` URI (local)."""
        ...

    async def check(self) -> None:
        """A live check for ``doctor``: raises a ``StorageError`` saying what is wrong."""
        ...

    async def aclose(self) -> None: ...


def open_blob_store(settings: Settings) -> BlobStore:
    """The store the settings describe: R2 when configured, else the local folder.

    Nothing is contacted here; an R2 client is made on first use.
    """
    if settings.r2_configured:
        from app.core.storage.r2 import R2BlobStore

        return R2BlobStore.from_settings(settings)
    from app.core.storage.local import LocalBlobStore

    return LocalBlobStore(settings.blobs_dir)
