"""Shot images, decoded and scaled off the GUI thread, kept in a bounded memory cache.

``request(ref)`` starts loading an image unless it is cached or on its way;
``ready`` tells (with the image key) when it has arrived; ``get(ref)`` gives
it. The file comes from the core's preview cache (``services.image_path``:
downloaded and checked once); decoding and scaling is ``QImageReader`` in a
worker thread (QImage is reentrant and releases the GIL while decoding).

Views ask for the images of the rows they paint, so at a feature's size (two
thousand shots) only what is on screen is decoded. Requests wait in a queue
served newest first: after a fast scroll the cards now on screen load before
the ones scrolled past, and the oldest waiting requests are dropped once more
than ``max_queued`` wait (a card asks again when it is painted again). Loads
run one fewer at once than there are CPUs (at least one), so decoding never
takes the GUI thread's core; the cache is bounded by bytes (least recently
used first out).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader

from app.core.errors import StorageError
from app.core.models import ImageRef
from app.ui.ops import Ops

if TYPE_CHECKING:  # opening services is for after the first paint (startup time)
    from app.core.services import Services

log = logging.getLogger(__name__)

THUMB_SIZE = QSize(384, 216)
LARGE_SIZE = QSize(1600, 900)


def decode_scaled(path: Path, bound: QSize) -> QImage:
    """Decode the image at ``path`` scaled to fit ``bound`` (never enlarged). Any thread."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and (size.width() > bound.width() or size.height() > bound.height()):
        reader.setScaledSize(size.scaled(bound, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        raise StorageError(f"cannot show {path.name}: {reader.errorString()}")
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


async def load_image(services: Services, ref: ImageRef, bound: QSize) -> QImage:
    """The image of ``ref`` as a QImage fitting ``bound``; raises ``StorageError``.

    The file comes from the core's preview cache (downloaded and checked once).
    """
    path = await services.image_path(ref)
    return await asyncio.to_thread(decode_scaled, path, bound)


async def load_thumbnail(services: Services, ref: ImageRef, bound: QSize) -> QImage:
    """A small version of the image of ``ref``, decoded and scaled by ``QImageReader`` in a
    worker thread straight from the image file.

    Not the preview cache's thumbnail files: those are made with Pillow, whose decode and
    encode loops run Python code in the worker threads and hold the GIL for much of the
    time, so the GUI thread waits for it (measured with benchmarks/ui.py: heartbeat gaps
    doubled). QImageReader works in C++ with the GIL released.
    """
    path = await services.image_path(ref)
    return await asyncio.to_thread(decode_scaled, path, bound)


def default_parallel() -> int:
    """Loads at once: one fewer than the CPUs (at most four), at least one."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


class ThumbnailLoader(QObject):
    ready = Signal(str)  # the key of an image now in the cache
    failed = Signal(str, str)  # key, reason

    def __init__(self, ops: Ops, services: Callable[[], Services], *,
                 size: QSize = THUMB_SIZE, parallel: int | None = None,
                 budget_bytes: int = 64 * 1024 * 1024, max_queued: int = 64,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.size = size
        self.budget_bytes = budget_bytes  # 64 MB: some 190 thumbnails of 384x216
        self.parallel = parallel or default_parallel()
        self.max_queued = max_queued
        self._services = services
        self._cache: OrderedDict[str, QImage] = OrderedDict()
        self._bytes = 0
        self._queued: OrderedDict[str, ImageRef] = OrderedDict()  # newest last
        self._loading: set[str] = set()
        self._errors: dict[str, str] = {}

    def get(self, ref: ImageRef | None) -> QImage | None:
        if ref is None:
            return None
        image = self._cache.get(ref.key)
        if image is not None:
            self._cache.move_to_end(ref.key)
        return image

    def error(self, ref: ImageRef | None) -> str | None:
        return self._errors.get(ref.key) if ref is not None else None

    def request(self, ref: ImageRef | None) -> None:
        """Load the image of ``ref`` unless it is cached, failed or loading; asked again
        while it waits, it moves to the front of the queue."""
        if ref is None or ref.key in self._cache or ref.key in self._loading:
            return
        if ref.key in self._errors:
            return
        self._queued[ref.key] = ref
        self._queued.move_to_end(ref.key)
        while len(self._queued) > self.max_queued:
            self._queued.popitem(last=False)  # asked for long ago: likely scrolled past
        self._pump()

    def _pump(self) -> None:
        while self._queued and len(self._loading) < self.parallel:
            key, ref = self._queued.popitem(last=True)
            self._loading.add(key)
            self.ops.start(self._load(ref), what=self.tr("Loading a shot image"), parent=self,
                           success=lambda image, key=key: self._store(key, image),
                           failure=lambda exc, key=key: self._fail(key, exc))

    def forget(self, ref: ImageRef | None) -> None:
        """Drop a failed or cached image so that the next request loads it again."""
        if ref is None:
            return
        self._errors.pop(ref.key, None)
        image = self._cache.pop(ref.key, None)
        if image is not None:
            self._bytes -= image.sizeInBytes()

    @property
    def pending(self) -> int:
        """Images waiting or loading."""
        return len(self._queued) + len(self._loading)

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    @property
    def cached(self) -> int:
        return len(self._cache)

    async def _load(self, ref: ImageRef) -> QImage:
        return await load_thumbnail(self._services(), ref, self.size)

    def _store(self, key: str, image: QImage) -> None:
        self._loading.discard(key)
        old = self._cache.pop(key, None)
        if old is not None:
            self._bytes -= old.sizeInBytes()
        self._cache[key] = image
        self._bytes += image.sizeInBytes()
        while self._bytes > self.budget_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= old.sizeInBytes()
        self._pump()
        self.ready.emit(key)

    def _fail(self, key: str, exc: BaseException) -> None:
        self._loading.discard(key)
        self._pump()
        reason = str(exc) if isinstance(exc, StorageError) else f"{type(exc).__name__}: {exc}"
        log.warning("shot image %s not shown: %s", key, reason)
        self._errors[key] = reason
        self.failed.emit(key, reason)
