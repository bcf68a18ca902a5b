"""The work the window drives: the services, their pipeline, and the queue of ideas.

Ideas wait in a queue and run one after another; retries, regenerations and
resumed runs start at once beside them. Edits of a finished storyboard (a look,
a scene) and picking a shot's earlier version are saved at once. When the settings change, new
services are opened and take over for the next run; the old ones finish the
runs they have in flight and are closed after that. Not a widget: the window
and its panels observe it through signals.

At start-up the session may exist before its services do (the window is shown
first, the services open right after its first paint): ``opened`` says when
they are there; ideas queued meanwhile wait for them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.core.errors import HistoryError
from app.core.ideas import Idea
from app.core.models import Run, RunOptions
from app.core.ownership import RunBusy
from app.core.settings import Settings
from app.ui.bridge import EventBridge
from app.ui.ops import Ops

if TYPE_CHECKING:  # importing them costs ~0.7 s (pymongo, storage): not before the first paint
    from app.core.pipeline import Pipeline
    from app.core.services import Services

log = logging.getLogger(__name__)

ServicesOpener = Callable[[Settings], Awaitable["Services"]]
Done = Callable[[tuple[Run, list[str]]], object]
Failed = Callable[[BaseException], object]


@dataclass(frozen=True)
class QueuedIdea:
    ticket: int
    idea: Idea
    options: RunOptions


class Session(QObject):
    queue_changed = Signal()
    services_changed = Signal(object)  # Services (new settings applied)
    opened = Signal(object)  # Services: the first ones are open (see ``set_services``)
    active_changed = Signal()  # a run started or finished

    def __init__(self, services: Services | None, bridge: EventBridge, ops: Ops,
                 opener: ServicesOpener, parent: QObject | None = None, *,
                 settings: Settings | None = None) -> None:
        """``services``, or None and ``settings``: the services come later (``set_services``)."""
        super().__init__(parent)
        if services is None and settings is None:
            raise ValueError("a session needs its services or the settings they will open with")
        self.bridge = bridge
        self.ops = ops
        self._opener = opener
        self._settings = services.settings if services is not None else settings
        self._services: Services | None = None
        self._pipeline: Pipeline | None = None
        self._ready = asyncio.Event()
        self._retiring: list[tuple[Services, Pipeline]] = []
        self._queue: list[QueuedIdea] = []
        self._tickets = itertools.count(1)
        self._worker: asyncio.Task | None = None
        self._live: set[str] = set()
        self._closed = False
        self.keep_runs_on_close = False  # set by the quit dialog: detach rather than cancel
        bridge.run_started.connect(self._on_run_started)
        bridge.run_finished.connect(self._on_run_finished)
        bridge.run_detached.connect(self._on_run_finished)  # no longer followed, either way
        if services is not None:
            self.set_services(services)

    def set_services(self, services: Services) -> None:
        """The first services, once open: queued ideas start now. Emits ``opened``."""
        if self._services is not None:
            raise RuntimeError("the session already has its services; use reopen()")
        self._services, self._pipeline = services, services.pipeline()
        self._settings = services.settings
        self.bridge.attach(self._pipeline)
        self._ready.set()
        self.opened.emit(services)

    # What there is.

    @property
    def is_open(self) -> bool:
        """Whether the services are open (at start-up they open after the first paint; at
        the end, once closing has begun, they are not: a late refresh asks nothing)."""
        return self._services is not None and not self._closed

    @property
    def services(self) -> Services:
        """The current services; None only during start-up, before ``opened``."""
        return self._services  # type: ignore[return-value]

    @property
    def settings(self) -> Settings:
        """The settings in use (known before the services are open)."""
        return self._settings

    @property
    def opener(self) -> ServicesOpener:
        return self._opener

    @property
    def pipeline(self) -> Pipeline:
        return self._pipeline  # type: ignore[return-value]

    @property
    def queued(self) -> list[QueuedIdea]:
        return list(self._queue)

    @property
    def active_runs(self) -> list[str]:
        """Runs started and not finished yet, as their events tell."""
        return sorted(self._live)

    def is_active(self, run_id: str) -> bool:
        return run_id in self.active_runs

    # The queue.

    def enqueue(self, ideas: list[Idea], options: RunOptions) -> list[QueuedIdea]:
        if self._closed:
            return []
        items = [QueuedIdea(next(self._tickets), idea, options) for idea in ideas]
        self._queue.extend(items)
        self.queue_changed.emit()
        if self._worker is None or self._worker.done():
            self._worker = self.ops.start(self._work_through_queue, what=self.tr("Running ideas"))
        return items

    def clear_queue(self) -> int:
        n = len(self._queue)
        self._queue.clear()
        self.queue_changed.emit()
        return n

    async def _work_through_queue(self) -> None:
        await self._ready.wait()  # ideas queued during start-up wait for the services
        while self._queue and not self._closed:
            item = self._queue.pop(0)
            self.queue_changed.emit()
            await self._pipeline.start(item.idea, item.options)

    # Acting on runs.

    def cancel(self, run_id: str) -> bool:
        return any(p.cancel(run_id) for p in self._pipelines())

    def cancel_all(self) -> int:
        self._queue.clear()
        self.queue_changed.emit()
        return sum(p.cancel_all() for p in self._pipelines())

    def detach_all(self) -> int:
        """Stop following every run but leave it resumable (cloud jobs keep running)."""
        self._queue.clear()
        self.queue_changed.emit()
        return sum(p.detach_all() for p in self._pipelines())

    def retry(self, run_id: str, shot_ids: list[str] | None = None) -> asyncio.Task:
        async def retry() -> Run:
            await self._ready.wait()
            return await self.pipeline.retry(run_id, shot_ids)

        return self.ops.start(retry, what=self.tr("Retrying shots"))

    def regenerate(self, run_id: str, shot_id: str, *, seed: int | None = None,
                   prompt: str | None = None) -> asyncio.Task:
        async def regenerate() -> Run:
            await self._ready.wait()
            return await self.pipeline.regenerate(run_id, shot_id, seed=seed, prompt=prompt)

        return self.ops.start(regenerate, what=self.tr("Regenerating a shot"))

    def regenerate_stale(self, run_id: str) -> asyncio.Task:
        """Render again only the shots an edit made stale (seeds kept, old images kept)."""
        async def regenerate() -> Run:
            await self._ready.wait()
            return await self.pipeline.regenerate_stale(run_id)

        return self.ops.start(regenerate, what=self.tr("Regenerating stale shots"))

    def pick_version(self, run_id: str, shot_id: str, attempt: int) -> asyncio.Task:
        """Make an earlier version of a shot its image again (the card follows the event)."""
        async def pick() -> Run:
            await self._ready.wait()
            return await self.pipeline.pick_version(run_id, shot_id, attempt)

        return self.ops.start(pick, what=self.tr("Using an earlier version"))

    # Editing a finished storyboard: saved at once, nothing rendered. ``success`` gets
    # ``(run, ids of the shots made stale)``; without ``failure`` the reason an edit is
    # refused (``EditError``) goes to the message bar.

    def edit_character(self, run_id: str, name: str, look: str, *,
                       parent: QObject | None = None, success: Done | None = None,
                       failure: Failed | None = None) -> asyncio.Task:
        async def edit() -> tuple[Run, list[str]]:
            await self._ready.wait()
            return await self.pipeline.edit_character(run_id, name, look)

        return self.ops.start(edit, what=self.tr("Changing a look"), parent=parent,
                              success=success, failure=failure)

    def edit_scene(self, run_id: str, index: int, *, heading: str | None = None,
                   summary: str | None = None, parent: QObject | None = None,
                   success: Done | None = None, failure: Failed | None = None) -> asyncio.Task:
        async def edit() -> tuple[Run, list[str]]:
            await self._ready.wait()
            return await self.pipeline.edit_scene(run_id, index, heading=heading,
                                                  summary=summary)

        return self.ops.start(edit, what=self.tr("Changing a scene"), parent=parent,
                              success=success, failure=failure)

    def edit_board(self, operation: str, run_id: str, *, what: str,
                   parent: QObject | None = None, success: Callable[[object], object] | None = None,
                   failure: Failed | None = None, **arguments: object) -> asyncio.Task:
        """One board edit (``pipeline.board.<operation>(run_id, **arguments)``: add_shot,
        delete_shot, duplicate_shot, move_shot, set_shot, set_aspect, restore_shot), saved at
        once; ``success`` gets its ``BoardEdit``. Refused (``EditError``) while the run renders."""
        async def edit() -> object:
            await self._ready.wait()
            return await getattr(self.pipeline.board, operation)(run_id, **arguments)

        return self.ops.start(edit, what=what, parent=parent, success=success, failure=failure)

    def resume(self, run_ids: list[str]) -> asyncio.Task:
        async def resume_each() -> list[Run]:
            await self._ready.wait()
            runs, busy = [], []
            for run_id in run_ids:
                try:
                    runs.append(await self.pipeline.resume(run_id))
                except RunBusy as exc:  # another window or machine took it meanwhile
                    busy.append(exc)
            if busy:  # the others were resumed; these are left alone, and said so
                raise RunBusy("; ".join(str(e) for e in busy), run_id=busy[0].run_id)
            return runs

        return self.ops.start(resume_each, what=self.tr("Resuming runs"))

    # Settings changes and shutdown.

    async def reopen(self, settings: Settings) -> Services:
        """Open services for ``settings`` and make them the current ones.

        Runs in flight finish on the services they started with, which are closed
        afterwards. Raises what ``open_services`` raises (the current services stay).
        """
        await self._ready.wait()  # settings saved during start-up: after the first services
        services = await self._opener(settings)
        self._settings = services.settings
        old = (self._services, self._pipeline)
        self._services, self._pipeline = services, services.pipeline()
        self.bridge.attach(self._pipeline)
        self._retiring.append(old)
        self.ops.start(self._retire(*old), what=self.tr("Closing the previous connections"))
        self.services_changed.emit(services)
        return services

    async def aclose(self, *, timeout_s: float = 15.0) -> None:
        """Cancel everything, wait for the runs to record their end, close the services."""
        self._closed = True
        if self.keep_runs_on_close:
            self.detach_all()
        else:
            self.cancel_all()
        if self._worker is not None:
            self._worker.cancel()  # also a run still being created, before its first event
        try:
            async with asyncio.timeout(timeout_s):
                # The pipeline has no signal for "its tasks are over": look every 20 ms.
                while (any(p.active_runs for p in self._pipelines())  # noqa: ASYNC110
                       or (self._worker and not self._worker.done())):
                    await asyncio.sleep(0.02)
        except TimeoutError:
            log.warning("runs still active at shutdown: %s", self.active_runs)
        current = [(self._services, self._pipeline)] if self._services is not None else []
        for services, pipeline in [*self._retiring, *current]:
            self.bridge.detach(pipeline)
            await services.aclose()
        self._retiring.clear()

    def _pipelines(self) -> list[Pipeline]:
        current = [self._pipeline] if self._pipeline is not None else []
        return [*current, *(p for _, p in self._retiring)]

    def _on_run_started(self, run: Run) -> None:
        self._live.add(run.run_id)
        self.active_changed.emit()

    def _on_run_finished(self, run: Run) -> None:
        self._live.discard(run.run_id)
        self.active_changed.emit()
        if self._services is not None and not self._closed:
            self.ops.start(self._check_recorded(self._services), what=self.tr("Saving history"))

    @staticmethod
    async def _check_recorded(services: Services) -> None:
        """Raise ``HistoryError`` when history did not take every change: Ops shows it in the
        message bar, in the core's words (the reason the CLI prints), e.g. that the changes
        are kept in a journal, or that history is unavailable and the run is not kept."""
        check = getattr(services.history, "unrecorded", None)
        problem = await check() if check is not None else None
        if problem:
            raise HistoryError(problem)

    async def _retire(self, services: Services, pipeline: Pipeline) -> None:
        """Close old services once the runs they carry have ended."""
        while pipeline.active_runs:  # noqa: ASYNC110 - no signal for "its tasks are over"
            await asyncio.sleep(0.2)
        if (services, pipeline) in self._retiring:
            self._retiring.remove((services, pipeline))
            self.bridge.detach(pipeline)
            await services.aclose()
