"""The Qt adapter, the async-work helper and the error path, on a real pipeline and loop."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest
import qasync
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app.core import events as ev
from app.core.errors import HistoryError
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import RunOptions, ShotStatus, Stage
from app.core.pipeline import Pipeline
from app.ui.bridge import EventBridge
from app.ui.errors import ErrorPresenter, MessageBar, install_excepthook
from app.ui.ops import Ops
from tests.core.doubles import PlannedWriter, ScriptedRenderer
from tests.ui.conftest import WAIT_MS, finish

SIGNALS = ("run_started", "stage_started", "script_written", "scenes_planned", "shot_started",
           "shot_retrying", "shot_finished", "run_finished")


def test_core_events_arrive_as_typed_signals_in_the_order_the_pipeline_emitted_them(
        loop, qtbot):
    pipeline = Pipeline(PlannedWriter(scenes=2, shots_per_scene=3),
                        ScriptedRenderer(latency=0.001, failures={"s01-02": 1}),
                        MemoryHistory(), concurrency=3, sleep=lambda _s: asyncio.sleep(0))
    core: list[ev.Event] = []
    pipeline.subscribe(core.append)
    bridge = EventBridge()
    bridge.attach(pipeline)
    generic: list[ev.Event] = []
    typed: list[str] = []
    bridge.event.connect(generic.append)
    for name in SIGNALS:
        getattr(bridge, name).connect(lambda *args, n=name: typed.append(n))

    run = finish(qtbot, pipeline.start(from_text("A storm, a lamp, a boat."), RunOptions()))

    assert run.shots_done == 6
    assert generic == core  # same objects, same order
    expected = [{ev.RunStarted: "run_started", ev.StageStarted: "stage_started",
                 ev.ScriptWritten: "script_written", ev.ScenesPlanned: "scenes_planned",
                 ev.ShotStarted: "shot_started", ev.ShotRetrying: "shot_retrying",
                 ev.ShotFinished: "shot_finished", ev.RunFinished: "run_finished"}[type(e)]
                for e in core]
    assert typed == expected
    assert "shot_retrying" in typed
    stages = [e.stage for e in generic if isinstance(e, ev.StageStarted)]
    assert stages == [Stage.WRITING_SCRIPT, Stage.PLANNING_SCENES, Stage.RENDERING_SHOTS]

    bridge.detach(pipeline)
    finish(qtbot, pipeline.start(from_text("Another one."), RunOptions(max_shots=1)))
    assert len(generic) == len(expected)  # detached: nothing more arrives


def test_events_from_another_thread_are_delivered_on_the_gui_thread_in_order(loop, qtbot):
    bridge = EventBridge()
    seen: list[tuple[int, bool]] = []
    bridge.stage_started.connect(
        lambda run_id, _stage: seen.append((int(run_id), threading.current_thread()
                                            is threading.main_thread())))

    def emit_many() -> None:
        for n in range(200):
            bridge(ev.StageStarted(str(n), Stage.RENDERING_SHOTS))

    worker = threading.Thread(target=emit_many)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(seen) == 200, timeout=WAIT_MS)
    assert [n for n, _ in seen] == list(range(200))
    assert all(on_gui for _, on_gui in seen)


def test_ops_delivers_success_and_progress_from_a_thread(loop, qtbot):
    presenter = ErrorPresenter()
    ops = Ops(presenter)
    reports: list[int] = []
    results: list[int] = []

    async def work(report) -> int:
        def count() -> int:
            for n in range(5):
                report(n)
            return 42
        return await asyncio.to_thread(count)

    task = ops.start(work, what="Counting", success=results.append, progress=reports.append)
    assert ops.busy == 1
    qtbot.waitUntil(lambda: results == [42], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: reports == [0, 1, 2, 3, 4], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: ops.busy == 0, timeout=WAIT_MS)  # the task reference is dropped
    assert task.done()
    assert presenter.messages == []


def test_ops_sends_unhandled_failures_to_the_presenter_and_handled_ones_to_the_callback(
        loop, qtbot):
    presenter = ErrorPresenter()
    ops = Ops(presenter)

    async def broken() -> None:
        raise HistoryError("the history store is unavailable: disk full")

    ops.start(broken(), what="Loading history")
    qtbot.waitUntil(lambda: len(presenter.messages) == 1, timeout=WAIT_MS)
    message = presenter.messages[0]
    assert message.title == "Loading history"
    assert message.text == "the history store is unavailable: disk full"
    assert not message.bug

    handled: list[BaseException] = []
    ops.in_thread(int, "not a number", what="Parsing", failure=handled.append)
    qtbot.waitUntil(lambda: len(handled) == 1, timeout=WAIT_MS)
    assert isinstance(handled[0], ValueError)
    assert len(presenter.messages) == 1


def test_ops_drops_the_callbacks_of_a_deleted_widget(loop, qtbot):
    presenter = ErrorPresenter()
    ops = Ops(presenter)
    widget = QWidget()
    called: list[object] = []
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "late"

    task = ops.start(slow(), what="Slow", parent=widget, success=called.append)
    widget.deleteLater()
    qtbot.waitUntil(lambda: not _alive(widget), timeout=WAIT_MS)
    gate.set()
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    assert called == [] and presenter.messages == []


def _alive(obj) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


class Button(QObject):
    # With a signal of no arguments, qasync 0.28's asyncSlot wrapper never starts the
    # coroutine ("asyncSlot was not callable from Signal"): the app uses Ops instead.
    clicked = Signal(bool)


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_an_async_slot_is_logged_and_shown_and_the_app_goes_on(
        loop, qtbot, caplog):
    presenter = ErrorPresenter()
    bar = MessageBar()
    presenter.attach(bar)
    uninstall = install_excepthook(presenter)
    try:
        button = Button()

        @qasync.asyncSlot(bool)
        async def on_click(_checked: bool) -> None:
            await asyncio.sleep(0)
            raise ZeroDivisionError("a bug in a handler")

        button.clicked.connect(on_click)
        with caplog.at_level("ERROR"):
            button.clicked.emit(False)
            qtbot.waitUntil(lambda: len(presenter.messages) == 1, timeout=WAIT_MS)
        message = presenter.messages[0]
        assert message.bug
        assert "ZeroDivisionError" in message.text
        assert "a bug in a handler" in message.details  # the traceback, to copy
        assert bar.current is message and not bar.isHidden()
        assert any("a bug in a handler" in (r.exc_text or "") or r.exc_info for r in caplog.records)

        button.clicked.disconnect(on_click)
        done: list[bool] = []
        ops = Ops(presenter)
        ops.start(asyncio.sleep(0), what="Still alive", success=lambda _: done.append(True))
        qtbot.waitUntil(lambda: done == [True], timeout=WAIT_MS)  # the loop still works
    finally:
        uninstall()
    assert sys.excepthook is not None and "install_excepthook" not in repr(sys.excepthook)


def test_the_message_bar_shows_the_newest_message_and_dismissing_shows_the_one_before(qtbot):
    presenter = ErrorPresenter()
    presenter.report("First", "one")  # before the bar exists: kept
    bar = MessageBar()
    qtbot.addWidget(bar)
    presenter.attach(bar)
    assert bar.current.title == "First" and not bar.isHidden()
    presenter.report("Second", "two")
    assert bar.current.title == "Second"
    assert bar.more.text() == "+1 more"
    bar.dismiss()
    assert bar.current.title == "First"
    bar.dismiss()
    assert bar.isHidden()


def test_shot_status_is_a_plain_enum_the_bridge_passes_through(loop, qtbot):
    """Signals carry the core's own objects: no copies, no Qt types in the core."""
    bridge = EventBridge()
    got: list = []
    bridge.shot_finished.connect(got.append)
    from app.core.models import Shot, ShotType

    shot = Shot(run_id="r", shot_id="s01-01", scene=1, index=1, number="1A",
                shot_type=ShotType.WIDE, description="d", status=ShotStatus.DONE)
    bridge(ev.ShotFinished("r", shot))
    assert got == [shot] and got[0] is shot
