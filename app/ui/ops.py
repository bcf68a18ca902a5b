"""The one way widgets start async work (Anki's ``QueryOp`` idea, on asyncio).

Every operation has the same shape: the work (a coroutine, or a blocking
function sent to a thread), what to do on success, on failure, and with
progress reports. ``Ops`` keeps a reference to every task (so none is
garbage-collected mid-flight), drops the callbacks of a widget that has been
deleted meanwhile, and sends every failure nobody handles to the one error
presenter. Nothing here blocks the GUI thread.

    ops.start(history.list_runs(search=text), what=self.tr("Loading history"),
              parent=self, success=self.show_runs)
    ops.in_thread(ideas.read_many, paths, what=..., success=self.queue)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Signal

from app.ui.errors import ErrorPresenter

log = logging.getLogger(__name__)

T = TypeVar("T")
Report = Callable[[Any], None]
"""Called by work (from any thread) to report progress; delivered on the GUI thread."""


class Ops(QObject):
    busy_changed = Signal(int)  # number of operations in flight

    def __init__(self, presenter: ErrorPresenter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self._tasks: set[asyncio.Task] = set()

    @property
    def busy(self) -> int:
        return len(self._tasks)

    def start(
        self,
        work: Awaitable[T] | Callable[..., Awaitable[T]],
        *,
        what: str,
        parent: QObject | None = None,
        success: Callable[[T], Any] | None = None,
        failure: Callable[[BaseException], Any] | None = None,
        progress: Callable[[Any], Any] | None = None,
    ) -> asyncio.Task:
        """Run ``work`` on the event loop.

        ``work`` is an awaitable, or a function returning one; with ``progress``
        the function is called with a ``report`` function. ``what`` names the
        operation for people ("Loading history") and titles its error message.
        Callbacks are skipped once ``parent`` has been deleted.
        """
        loop = asyncio.get_running_loop()
        if callable(work):
            work = work(self._reporter(loop, parent, progress)) if progress else work()
        task = loop.create_task(self._run(work, what, parent, success, failure),
                                name=f"ui: {what}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        self.busy_changed.emit(len(self._tasks))
        return task

    def in_thread(
        self,
        function: Callable[..., T],
        *args: Any,
        what: str,
        parent: QObject | None = None,
        success: Callable[[T], Any] | None = None,
        failure: Callable[[BaseException], Any] | None = None,
    ) -> asyncio.Task:
        """Run a blocking ``function(*args)`` in a worker thread, same callbacks as ``start``."""
        return self.start(asyncio.to_thread(function, *args), what=what, parent=parent,
                          success=success, failure=failure)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def wait_idle(self, timeout_s: float = 10.0) -> None:
        """Wait until no operation is in flight (for shutdown and tests)."""
        async with asyncio.timeout(timeout_s):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, work: Awaitable[T], what: str, parent: QObject | None,
                   success: Callable[[T], Any] | None,
                   failure: Callable[[BaseException], Any] | None) -> None:
        try:
            result = await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not _alive(parent):
                log.info("%s failed after its window closed: %s", what, exc)
                return
            if failure is None:
                self.presenter.report(what, exc)
                return
            self._call(what, failure, exc)
            return
        if success is not None and _alive(parent):
            self._call(what, success, result)

    def _call(self, what: str, callback: Callable[[Any], Any], value: Any) -> None:
        try:
            callback(value)
        except Exception as exc:  # a bug in a callback: show it, keep going
            self.presenter.report(what, exc)

    def _reporter(self, loop: asyncio.AbstractEventLoop, parent: QObject | None,
                  progress: Callable[[Any], Any]) -> Report:
        def deliver(value: Any) -> None:
            if _alive(parent):
                progress(value)

        def report(value: Any) -> None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                deliver(value)
            else:
                loop.call_soon_threadsafe(deliver, value)

        return report

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self.busy_changed.emit(len(self._tasks))
        if not task.cancelled() and task.exception() is not None:  # only a bug in _run
            self.presenter.report(task.get_name(), task.exception())


def _alive(obj: QObject | None) -> bool:
    return obj is None or shiboken6.isValid(obj)
