"""Shot images, decoded and scaled off the GUI thread, kept in a bounded memory cache.

``request(ref)`` starts loading an image unless it is cached or on its way;
``ready`` tells (with the image key) when it has arrived; ``get(ref)`` gives
it. The file comes from the core's preview cache (``services.image_path``:
downloaded and checked once); decoding and scaling is ``QImageReader`` in a
worker thread (QImage is reentrant and releases the GIL while decoding).
At most a few loads run at once, so a hundred shots landing together never
starve the loop.
"""

from __future__ import annotations

import asyncio
import logging
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


class ThumbnailLoader(QObject):
    ready = Signal(str)  # the key of an image now in the cache
    failed = Signal(str, str)  # key, reason

    def __init__(self, ops: Ops, services: Callable[[], Services], *,
                 size: QSize = THUMB_SIZE, parallel: int = 4,
                 budget_bytes: int = 160 * 1024 * 1024, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.size = size
        self.budget_bytes = budget_bytes
        self._services = services
        self._cache: OrderedDict[str, QImage] = OrderedDict()
        self._bytes = 0
        self._pending: set[str] = set()
        self._errors: dict[str, str] = {}
        self._gate = asyncio.Semaphore(parallel)

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
        if ref is None or ref.key in self._cache or ref.key in self._pending:
            return
        if ref.key in self._errors:
            return
        self._pending.add(ref.key)
        self.ops.start(self._load(ref), what=self.tr("Loading a shot image"), parent=self,
                       success=lambda image, key=ref.key: self._store(key, image),
                       failure=lambda exc, key=ref.key: self._fail(key, exc))

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
        return len(self._pending)

    async def _load(self, ref: ImageRef) -> QImage:
        async with self._gate:
            return await load_thumbnail(self._services(), ref, self.size)

    def _store(self, key: str, image: QImage) -> None:
        self._pending.discard(key)
        self._cache[key] = image
        self._bytes += image.sizeInBytes()
        while self._bytes > self.budget_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= old.sizeInBytes()
        self.ready.emit(key)

    def _fail(self, key: str, exc: BaseException) -> None:
        self._pending.discard(key)
        reason = str(exc) if isinstance(exc, StorageError) else f"{type(exc).__name__}: {exc}"
        log.warning("shot image %s not shown: %s", key, reason)
        self._errors[key] = reason
        self.failed.emit(key, reason)
