"""UI test fixtures: offscreen Qt, a qasync loop per test, the real window on real services.

Tests are plain (sync) pytest-qt tests. Each gets a ``qasync.QEventLoop`` set
as the running loop without being started: ``qtbot.waitUntil`` and friends
spin Qt's event loop, which is what runs asyncio callbacks under qasync. Never
``already_running=True`` + ``stop()`` (that calls ``QApplication.exit()``).

Qt warnings fail the tests, except the offscreen platform's notice about
``propagateSizeHints``. A message shown to the person that is a bug (an
unexpected exception) also fails the test that caused it.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.core.renderers import RenderRequest, RenderResult
from app.core.services import Services, open_services
from app.core.settings import Settings, load_settings
from app.ui.app import Ui, open_ui
from tests.fakes.cloud import bucket, runpod, s3  # noqa: F401 (fixtures, for test_cloud)

HERE = Path(__file__).resolve().parent
WAIT_MS = 30_000  # generous: a loaded two-core machine must not fail a correct test


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(r"propagateSizeHints"))


@pytest.fixture
def loop(qapp):
    gc.collect()  # see below
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    deadline = time.monotonic() + 10
    while any(not t.done() for t in pending) and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.002)
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
    loop.close()
    # A test's widgets left in reference cycles (a traceback's frames, a lambda) must die
    # here, on the GUI thread. Collected later by a garbage collection that happens to run
    # on another thread (moto's server starting, say), a top-level widget's destructor
    # waits for the GUI thread, which may be waiting for that very thread: a deadlock
    # seen once in test_cloud.py.
    gc.collect()
    qapp.processEvents()


def finish(qtbot, awaitable: Awaitable[Any], timeout: int = WAIT_MS) -> Any:
    """Run ``awaitable`` on the qasync loop until it is done; its result."""
    task = asyncio.ensure_future(awaitable)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


class GatedRenderer:
    """The real renderer, with shots held back on demand (no timing in tests).

    ``hold(shot_id)`` makes that shot wait until ``release(shot_id)``;
    ``hold_all()`` holds every shot; ``fail[shot_id] = n`` fails its next n attempts.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.gates: dict[str, asyncio.Event] = {}
        self.all_gate: asyncio.Event | None = None
        self.fail: dict[str, int] = {}
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.kept: list[str] = []  # cancelled with the remote job left running (detached)

    def size_for(self, aspect: str):
        return self.inner.size_for(aspect)

    def hold(self, *shot_ids: str) -> None:
        for shot_id in shot_ids:
            self.gates[shot_id] = asyncio.Event()

    def release(self, *shot_ids: str) -> None:
        for shot_id in shot_ids or list(self.gates):
            self.gates.pop(shot_id, asyncio.Event()).set()

    def hold_all(self) -> None:
        self.all_gate = asyncio.Event()

    def release_all(self) -> None:
        if self.all_gate is not None:
            self.all_gate.set()
        self.release()

    async def render_shot(self, request: RenderRequest) -> RenderResult:
        from app.core.errors import RenderError

        shot_id = request.shot.shot_id
        self.started.append(shot_id)
        try:
            if self.all_gate is not None:
                await self.all_gate.wait()
            gate = self.gates.get(shot_id)
            if gate is not None:
                await gate.wait()
            if self.fail.get(shot_id, 0) > 0:
                self.fail[shot_id] -= 1
                raise RenderError("the job failed: CUDA out of memory", retryable=False)
            result = await self.inner.render_shot(request)
        except asyncio.CancelledError:
            (self.kept if request.keeps_job() else self.cancelled).append(shot_id)
            raise
        self.finished.append(shot_id)
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def renderer_box() -> dict[str, GatedRenderer]:
    return {}


@pytest.fixture
def opener(renderer_box) -> Callable[[Settings], Awaitable[Services]]:
    """``open_services`` with the renderer wrapped in a ``GatedRenderer``."""

    async def open_gated(settings: Settings) -> Services:
        services = await open_services(settings)
        services.renderer = renderer_box["renderer"] = GatedRenderer(services.renderer)
        return services

    return open_gated


@pytest.fixture
def make_ui(loop, qtbot, opener):
    made: list[Ui] = []

    def make(show: bool = True) -> Ui:
        settings = load_settings()
        ui = finish(qtbot, open_ui(settings, opener=opener))
        made.append(ui)
        if show:
            ui.window.show()
            qtbot.waitExposed(ui.window)
        ui.start([])
        qtbot.waitUntil(lambda: ui.window.history.loaded, timeout=WAIT_MS)
        return ui

    yield make
    for ui in made:
        finish(qtbot, ui.aclose())
        bugs = [f"{m.title}: {m.text}\n{m.details}" for m in ui.presenter.messages if m.bug]
        assert not bugs, "unexpected errors were shown:\n" + "\n".join(bugs)


@pytest.fixture
def ui(make_ui) -> Ui:
    return make_ui()


@pytest.fixture
def renderer(ui, renderer_box) -> GatedRenderer:
    return renderer_box["renderer"]


def drop(widget: QWidget, mime: QMimeData) -> bool:
    """Drag ``mime`` over ``widget`` and drop it, as a file manager would. True if accepted."""
    centre = QPoint(widget.width() // 2, widget.height() // 2)
    actions = Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(centre, actions, mime, buttons, modifiers)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(widget, QDragMoveEvent(centre, actions, mime, buttons, modifiers))
    dropped = QDropEvent(QPointF(centre), actions, mime, buttons, modifiers)
    QApplication.sendEvent(widget, dropped)
    return dropped.isAccepted()


def file_mime(*paths: Path | str) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


class Recorder:
    """Every core event the window's bridge re-emitted, in order."""

    def __init__(self, ui: Ui) -> None:
        self.events: list = []
        ui.bridge.event.connect(self.events.append)

    def finished(self) -> list:
        from app.core.events import RunFinished

        return [e.run for e in self.events if isinstance(e, RunFinished)]

    def wait_finished(self, qtbot, count: int = 1, timeout: int = WAIT_MS) -> list:
        qtbot.waitUntil(lambda: len(self.finished()) >= count, timeout=timeout)
        return self.finished()


@pytest.fixture
def recorder(ui) -> Recorder:
    return Recorder(ui)
