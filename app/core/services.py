"""The composition root: build every part once from the settings, and close them.

No module-level singletons: the CLI, the window and the tests each call
``open_services`` (or build the parts themselves) and pass them on. Each part
is the cloud implementation when the settings configure it, else the embedded
default; nothing else in the app decides which.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import HistoryError, StoryreelError
from app.core.estimate import Estimate, estimate_run, recent_runs, usual_job_seconds
from app.core.files import PRIVATE_DIR, secure_home, tighten
from app.core.frame import DEFAULT_ASPECT
from app.core.history import HistoryStore
from app.core.history.factory import open_history
from app.core.models import ImageRef
from app.core.ownership import Identity
from app.core.pipeline import Pipeline, RetryPolicy
from app.core.renderers import Renderer, size_for
from app.core.renderers.draft import DraftRenderer
from app.core.settings import Settings
from app.core.storage import BlobStore, open_blob_store
from app.core.storage.cache import PreviewCache, open_preview_cache
from app.core.storage.run_objects import delete_run_objects
from app.core.writers import Writer
from app.core.writers.draft import DraftWriter

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    writer: Writer
    renderer: Renderer
    store: BlobStore
    history: HistoryStore
    cache: PreviewCache

    def pipeline(self, *, concurrency: int | None = None) -> Pipeline:
        return Pipeline(
            self.writer,
            self.renderer,
            self.history,
            concurrency=concurrency or self.settings.concurrency,
            retry=RetryPolicy(max_attempts=self.settings.max_attempts),
            identity=Identity.of_this_process(self.settings.home),  # the run owner it records
        )

    @property
    def runs_on_gpu(self) -> bool:
        """Whether a run pays RunPod by the GPU second (a RunPod writer or renderer)."""
        return bool(self.settings.runpod_writer_endpoint or self.settings.runpod_shot_endpoint)

    async def estimate(self, *, max_shots: int | None = None,
                       budget_gpu_s: float | None = None,
                       aspect: str = DEFAULT_ASPECT) -> Estimate:
        """What a run with these parts would cost (see ``app.core.estimate``), drawing
        frames of ``aspect`` (``AspectError`` for a label that is not one of ours)."""
        width, height = size_for(self.renderer, aspect)
        return await estimate_run(
            self.history, writer=self.writer.name, renderer=self.renderer.name,
            writer_on_gpu=bool(self.settings.runpod_writer_endpoint),
            renderer_on_gpu=bool(self.settings.runpod_shot_endpoint),
            max_shots=max_shots, budget_gpu_s=budget_gpu_s,
            price_per_gpu_s=self.settings.price_per_gpu_s, pixels=width * height)

    async def image_path(self, image: ImageRef) -> Path:
        """A local file holding the image: the blob itself for the local store, else a
        verified copy in the preview cache (downloaded once). Raises ``StorageError``."""
        return await self.cache.image_path(image)

    async def thumbnail_path(self, image: ImageRef, width: int | None = None) -> Path:
        return await self.cache.thumbnail_path(image, width)

    async def delete_run(self, run_id: str, *, keep_images: bool = False) -> int:
        """Delete a run from history and (unless ``keep_images``) every object under
        ``runs/<run_id>/``; returns how many objects were deleted. Ask the person first."""
        read_only = getattr(self.history, "read_only", None)  # the images would go alone
        if read_only:
            raise HistoryError(f"history is read-only: cannot delete run {run_id}: {read_only}")
        deleted = 0 if keep_images else await delete_run_objects(self.store, run_id)
        await self.history.delete_run(run_id)
        return deleted

    async def aclose(self) -> None:
        # History last but one: it may still be writing what the others reported.
        for part in (self.writer, self.renderer, self.cache, self.history, self.store):
            try:
                await part.aclose()
            except Exception:
                log.exception("closing %s failed", type(part).__name__)


def build_writer(settings: Settings) -> Writer:
    if settings.runpod_writer_endpoint:
        from app.core.writers.runpod_vllm import RunPodVllmWriter

        return RunPodVllmWriter.from_settings(settings)
    if settings.writer_base_url:
        from app.core.writers.openai_compat import OpenAICompatWriter

        return OpenAICompatWriter.from_settings(settings)
    return DraftWriter()


def build_renderer(settings: Settings, store: BlobStore) -> Renderer:
    if settings.runpod_shot_endpoint:
        from app.core.renderers.runpod import RunPodRenderer

        return RunPodRenderer.from_settings(settings)  # ConfigError without R2
    return DraftRenderer(store)


async def open_services(settings: Settings) -> Services:
    """Every part, ready. Raises ``ConfigError`` for settings that cannot work together;
    an unreachable history does not raise (runs go on, see ``history.reason``)."""
    await asyncio.to_thread(secure_home, settings.home)  # 0700 folders, looser ones tightened
    store = open_blob_store(settings)
    parts: list = [store]
    try:
        writer = build_writer(settings)
        parts.append(writer)
        renderer = build_renderer(settings, store)
        parts.append(renderer)
        cache = open_preview_cache(settings, store)
        parts.append(cache)
        history = await open_history(settings)
        await asyncio.to_thread(tighten, settings.db_dir, PRIVATE_DIR)  # made just now: 0700
    except BaseException:
        for part in reversed(parts):
            with contextlib.suppress(Exception):
                await part.aclose()
        raise
    await _seed_job_time(renderer, history)
    return Services(settings=settings, writer=writer, renderer=renderer, store=store,
                    history=history, cache=cache)


async def _seed_job_time(renderer: Renderer, history: HistoryStore) -> None:
    """Tell a cloud renderer how long its jobs usually take (from history), so that a new
    process polls its first wave of jobs as promptly as later ones."""
    expect = getattr(renderer, "expect_job_seconds", None)
    if expect is None:
        return
    try:
        seconds = usual_job_seconds(await recent_runs(history), renderer.name)
    except StoryreelError as exc:  # no history: the renderer learns as it goes
        log.info("no job times from history: %s", exc)
        return
    if seconds is not None:
        expect(seconds)
