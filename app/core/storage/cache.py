"""The preview cache: local copies of shot images, and their thumbnails.

Images kept in R2 are downloaded once into ``cache_dir`` and named by content:
the sha256 the renderer recorded when it is known, else a hash of store, bucket
and key. Object keys and recorded checksums are untrusted, so neither is ever
used as a path: a cache file name is always a hex digest made here.

Every download is checked against the recorded sha256 before it is kept; a
mismatch raises ``ChecksumMismatch`` instead of showing a wrong picture. Images
in the local blob store are not copied (their own file is returned) but are
checked once per process all the same.

The cache holds at most ``max_bytes`` (images and thumbnails together); the
least recently used files go first. Recency survives restarts through file
modification times. Decoding, resizing and hashing run in worker threads
(``asyncio.to_thread``; Pillow and hashlib release the GIL), never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import DiskError, StorageError
from app.core.files import PRIVATE_DIR, disk_error
from app.core.storage import BlobStore, ChecksumMismatch, ObjectNotFound, check_key

if TYPE_CHECKING:
    from app.core.models import ImageRef
    from app.core.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
DEFAULT_THUMB_WIDTH = 320
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


class PreviewCache:
    """Local files for ``ImageRef``s, downloaded on demand, verified, size-bounded."""

    def __init__(
        self,
        root: Path,
        stores: BlobStore | Iterable[BlobStore],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        thumb_width: int = DEFAULT_THUMB_WIDTH,
        thumb_quality: int = 85,
    ) -> None:
        self.root = Path(root).resolve()
        self.max_bytes = max_bytes
        self.thumb_width = thumb_width
        self.thumb_quality = thumb_quality
        self._stores = [stores] if isinstance(stores, BlobStore) else list(stores)
        self._index: OrderedDict[Path, int] | None = None  # path -> size, oldest first
        self._index_lock = asyncio.Lock()
        self._inflight: dict[Path, asyncio.Future[Path]] = {}
        self._verified_local: set[tuple[Path, int, int]] = set()
        self._pinned: Counter[Path] = Counter()  # files being read: never evicted

    # Public API
    async def image_path(self, ref: ImageRef) -> Path:
        """A local file holding the image of ``ref``: downloaded and verified if needed.

        Raises ``ObjectNotFound``, ``ChecksumMismatch`` or another ``StorageError``.
        """
        check_key(ref.key)  # untrusted: refused before anything is touched
        store = self._store_for(ref)
        expected = _expected_sha256(ref)
        local = store.local_path(ref.key)  # a path only for local stores
        if local is not None:
            return await self._verified_local_file(ref, local, expected)
        path = self._image_file(ref, expected)
        return await self._once(path, lambda: self._download(store, ref, path, expected))

    async def thumbnail_path(self, ref: ImageRef, width: int | None = None) -> Path:
        """A JPEG at most ``width`` pixels wide (default ``thumb_width``), made off the loop."""
        width = width or self.thumb_width
        if not 16 <= width <= 4096:
            raise ValueError("thumbnail width must be between 16 and 4096 pixels")
        check_key(ref.key)
        self._store_for(ref)  # fail early, with the helpful message, for unreadable stores
        name = _content_name(ref, _expected_sha256(ref))
        path = self.root / "thumbs" / name[:2] / f"{name}-w{width}.jpg"
        return await self._once(path, lambda: self._thumbnail(ref, path, width))

    async def usage(self) -> int:
        """Bytes the cache holds now."""
        index = await self._load_index()
        return sum(index.values())

    async def clear(self) -> None:
        """Delete every cached file (images in the local blob store stay)."""
        index = await self._load_index()
        paths = list(index)
        index.clear()
        await asyncio.to_thread(_unlink_all, paths)

    async def aclose(self) -> None:
        """Cancel downloads and thumbnails still running (none are left half-written)."""
        pending = list(self._inflight.values())
        for fut in pending:
            fut.cancel()
        for fut in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fut

    # Where things live
    def _store_for(self, ref: ImageRef) -> BlobStore:
        for store in self._stores:
            if store.kind == ref.store and (store.kind == "local" or store.bucket == ref.bucket):
                return store
        configured = ", ".join(f"{s.kind} {s.bucket!r}" for s in self._stores) or "none"
        where = "the local folder" if ref.store == "local" else f"R2 bucket {ref.bucket!r}"
        raise StorageError(
            f"image {ref.key!r} is kept in {where}, which this app is not set up to read "
            f"(configured: {configured}): set the R2_* variables to that bucket to see it"
        )

    def _image_file(self, ref: ImageRef, expected: str | None) -> Path:
        name = _content_name(ref, expected)
        return self.root / "images" / name[:2] / (name + _EXTENSIONS.get(ref.mime, ".bin"))

    # Work, done once per path however many callers ask at the same time
    async def _once(self, path: Path, make: Callable[[], Awaitable[Path]]) -> Path:
        fut = self._inflight.get(path)
        if fut is None:
            fut = asyncio.ensure_future(self._hit_or_make(path, make))
            self._inflight[path] = fut
            fut.add_done_callback(lambda f: self._forget(path, f))
        # Shielded: one impatient caller cancelling must not cancel the others' download.
        return await asyncio.shield(fut)

    def _forget(self, path: Path, fut: asyncio.Future[Path]) -> None:
        if self._inflight.get(path) is fut:
            del self._inflight[path]
        if not fut.cancelled():
            fut.exception()  # retrieved: a failure nobody awaited is not worth a warning

    async def _hit_or_make(self, path: Path, make: Callable[[], Awaitable[Path]]) -> Path:
        index = await self._load_index()
        size = await asyncio.to_thread(_touch, path)
        if size is not None:
            index[path] = size
            index.move_to_end(path)
            return path
        try:
            await make()
        except (OSError, DiskError) as exc:  # full or read-only: one message, the cache's
            error = disk_error(OSError(exc.errno, ""), self.root)
            if error is None:
                raise
            raise error from None
        size = (await asyncio.to_thread(path.stat)).st_size
        index[path] = size
        index.move_to_end(path)
        await self._evict(keep=path)
        return path

    async def _download(self, store: BlobStore, ref: ImageRef, path: Path,
                        expected: str | None) -> Path:
        await asyncio.to_thread(path.parent.mkdir, mode=PRIVATE_DIR, parents=True,
                                exist_ok=True)
        fd, tmp_name = await asyncio.to_thread(
            tempfile.mkstemp, prefix=".", suffix=".part", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            await store.get_to_file(ref.key, tmp)
            actual = await asyncio.to_thread(_sha256_file, tmp)
            if expected is not None and actual != expected:
                raise ChecksumMismatch(ref.key, expected, actual)
            await asyncio.to_thread(os.replace, tmp, path)
        finally:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(tmp.unlink, missing_ok=True)
        log.debug("cached %s (%s)", ref.key, path.name)
        return path

    async def _verified_local_file(self, ref: ImageRef, path: Path,
                                   expected: str | None) -> Path:
        try:
            st = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            raise ObjectNotFound(ref.key, "the local blob folder") from None
        stamp = (path, st.st_size, st.st_mtime_ns)
        if expected is not None and stamp not in self._verified_local:
            actual = await asyncio.to_thread(_sha256_file, path)
            if actual != expected:
                raise ChecksumMismatch(ref.key, expected, actual)
            self._verified_local.add(stamp)
        return path

    async def _thumbnail(self, ref: ImageRef, path: Path, width: int) -> Path:
        source = await self.image_path(ref)
        self._pinned[source] += 1
        try:
            await asyncio.to_thread(_write_thumbnail, source, path, width, self.thumb_quality,
                                    ref.key)
        finally:
            self._pinned[source] -= 1
            if not self._pinned[source]:
                del self._pinned[source]
        return path

    # Size bound, least recently used first
    async def _load_index(self) -> OrderedDict[Path, int]:
        if self._index is None:
            async with self._index_lock:
                if self._index is None:
                    self._index = await asyncio.to_thread(_scan, self.root)
        return self._index

    async def _evict(self, keep: Path) -> None:
        index = await self._load_index()
        total = sum(index.values())
        victims: list[Path] = []
        for path, size in list(index.items()):
            if total <= self.max_bytes:
                break
            if path == keep or path in self._inflight or path in self._pinned:
                continue
            victims.append(path)
            total -= size
            del index[path]
        if victims:
            log.debug("evicting %d cached files to stay under %d bytes", len(victims),
                      self.max_bytes)
            await asyncio.to_thread(_unlink_all, victims)


def open_preview_cache(settings: Settings, store: BlobStore, **options: object) -> PreviewCache:
    """The cache under ``settings.cache_dir``, reading from ``store``.

    When ``store`` is R2, images of older runs made without R2 still resolve:
    the local blob folder is always consulted for ``store == "local"`` refs.
    """
    from app.core.storage.local import LocalBlobStore

    stores: list[BlobStore] = [store]
    if store.kind != "local":
        stores.append(LocalBlobStore(settings.blobs_dir))
    return PreviewCache(settings.cache_dir, stores, **options)  # type: ignore[arg-type]


# Helpers (pure, or run in worker threads)
def _expected_sha256(ref: ImageRef) -> str | None:
    value = (ref.sha256 or "").strip().lower()
    if not value:
        return None
    if not _SHA256.match(value):
        raise StorageError(
            f"image {ref.key!r} has a malformed recorded checksum; retry the shot to render it "
            "again")
    return value


def _content_name(ref: ImageRef, expected: str | None) -> str:
    """A hex name for the image: its sha256 when known, else a digest of where it lives."""
    if expected is not None:
        return expected
    where = f"{ref.store}\0{ref.bucket}\0{ref.key}"
    return "k" + hashlib.sha256(where.encode()).hexdigest()[:63]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _touch(path: Path) -> int | None:
    """Size of ``path`` after marking it just used, or None when it is not there."""
    try:
        os.utime(path)
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _scan(root: Path) -> OrderedDict[Path, int]:
    found: list[tuple[int, Path, int]] = []
    stale = time.time() - 3600
    for folder in ("images", "thumbs"):
        for dirpath, _dirs, files in os.walk(root / folder):
            for name in files:
                path = Path(dirpath) / name
                if name.startswith("."):  # a download or thumbnail in progress
                    with contextlib.suppress(OSError):
                        if path.stat().st_mtime < stale:  # ... or one interrupted long ago
                            path.unlink()
                    continue
                with contextlib.suppress(OSError):
                    st = path.stat()
                    found.append((st.st_mtime_ns, path, st.st_size))
    found.sort()
    return OrderedDict((path, size) for _mtime, path, size in found)


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def _write_thumbnail(source: Path, dest: Path, width: int, quality: int, key: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as im:
            if im.width > width:
                height = max(1, round(im.height * width / im.width))
                im.draft("RGB", (width, height))  # JPEG sources decode at a smaller scale
                im.thumbnail((width, height), Image.Resampling.LANCZOS, reducing_gap=2.0)
            else:
                im.load()
            thumb = _flatten(im)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise StorageError(f"image {key!r} is not a readable picture ({exc.__class__.__name__})"
                           ) from None
    dest.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            thumb.save(f, "JPEG", quality=quality, optimize=False)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _flatten(im):  # -> Image.Image
    """RGB for JPEG: transparency goes onto white, palettes and greys become RGB."""
    from PIL import Image

    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return im.convert("RGB") if im.mode != "RGB" else im.copy()
