"""The composition root: build every part once from the settings, and close them.

No module-level singletons: the CLI, the window and the tests each call
``open_services`` (or build the parts themselves) and pass them on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import ConfigError
from app.core.history import HistoryStore
from app.core.history.files import FileHistory
from app.core.models import ImageRef
from app.core.pipeline import Pipeline, RetryPolicy
from app.core.renderers import Renderer
from app.core.renderers.draft import DraftRenderer
from app.core.settings import Settings
from app.core.storage import BlobStore
from app.core.storage.local import LocalBlobStore
from app.core.writers import Writer
from app.core.writers.draft import DraftWriter


@dataclass
class Services:
    settings: Settings
    writer: Writer
    renderer: Renderer
    store: BlobStore
    history: HistoryStore

    def pipeline(self, *, concurrency: int | None = None) -> Pipeline:
        return Pipeline(
            self.writer,
            self.renderer,
            self.history,
            concurrency=concurrency or self.settings.concurrency,
            retry=RetryPolicy(max_attempts=self.settings.max_attempts),
        )

    async def image_path(self, image: ImageRef) -> Path | None:
        """A local file holding the image, or None when it cannot be had."""
        if image.store == self.store.kind:
            return self.store.local_path(image.key)
        return None

    async def aclose(self) -> None:
        for part in (self.writer, self.renderer, self.history, self.store):
            with contextlib.suppress(Exception):
                await part.aclose()


async def open_services(settings: Settings) -> Services:
    _refuse_unbuilt(settings)
    store = LocalBlobStore(settings.blobs_dir)
    return Services(
        settings=settings,
        writer=DraftWriter(),
        renderer=DraftRenderer(store),
        store=store,
        history=FileHistory(settings.history_dir),
    )


def _refuse_unbuilt(settings: Settings) -> None:
    """Cloud parts this build does not have yet: say so rather than run the draft quietly."""
    missing = [p.name for p in settings.parts() if p.mode == "cloud"]
    if missing:
        raise ConfigError(
            f"cloud {', '.join(missing)} configured, but this build only has the embedded "
            "defaults; unset those variables to run offline"
        )
