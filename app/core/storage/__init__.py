"""Blob stores hold the images of shots: a local folder, or Cloudflare R2.

Keys are untrusted (they come back from remote workers and from history), so
every store checks them with ``check_key`` before use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from app.core.errors import StorageError

_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise ``StorageError``.

    Safe: ``/``-separated parts of letters, digits, ``.``, ``_`` and ``-``, no part
    empty or starting with a dot (so no ``..``), no absolute path, no backslash.
    """
    if not isinstance(key, str) or not key or len(key) > 1024:
        raise StorageError(f"invalid object key {key!r}: empty or too long")
    parts = key.split("/")
    if any(not _KEY_PART.match(p) for p in parts):
        raise StorageError(
            f"invalid object key {key!r}: only relative paths of letters, digits, '.', '_' "
            "and '-' are allowed"
        )
    return key


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

    async def aclose(self) -> None: ...
