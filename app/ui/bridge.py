"""The Qt adapter: core pipeline events in, Qt signals out, on the GUI thread, in order.

The core knows nothing of Qt (STYLE.md 1). It calls its listeners with plain
events; this object is such a listener and re-emits each event as a typed
signal. Under qasync the pipeline runs on the GUI thread, so events are
emitted at once; an event arriving from another thread is queued to the GUI
thread, keeping the order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QThread, Signal

from app.core import events as ev

if TYPE_CHECKING:
    from app.core.pipeline import Pipeline


class EventBridge(QObject):
    event = Signal(object)  # every event, before its typed signal
    run_started = Signal(object)  # Run
    stage_started = Signal(str, object)  # run_id, Stage
    script_written = Signal(str, object)  # run_id, Script
    scenes_planned = Signal(str, object, object)  # run_id, tuple[Scene], tuple[Shot]
    shot_started = Signal(object)  # Shot
    shot_retrying = Signal(object, str, float)  # Shot, error, delay in seconds
    shot_finished = Signal(object)  # Shot
    run_finished = Signal(object)  # Run
    run_detached = Signal(object)  # Run, left running to be resumed later

    _queued = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: dict[int, Callable[[], None]] = {}
        self._queued.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)

    def attach(self, pipeline: Pipeline) -> None:
        if id(pipeline) not in self._unsubscribe:
            self._unsubscribe[id(pipeline)] = pipeline.subscribe(self)

    def detach(self, pipeline: Pipeline) -> None:
        unsubscribe = self._unsubscribe.pop(id(pipeline), None)
        if unsubscribe is not None:
            unsubscribe()

    def detach_all(self) -> None:
        for unsubscribe in self._unsubscribe.values():
            unsubscribe()
        self._unsubscribe.clear()

    def __call__(self, event: ev.Event) -> None:
        """The listener the pipeline calls."""
        if QThread.currentThread() == self.thread():
            self._dispatch(event)
        else:
            self._queued.emit(event)

    def _dispatch(self, event: ev.Event) -> None:
        self.event.emit(event)
        match event:
            case ev.RunStarted(run=run):
                self.run_started.emit(run)
            case ev.StageStarted(run_id=run_id, stage=stage):
                self.stage_started.emit(run_id, stage)
            case ev.ScriptWritten(run_id=run_id, script=script):
                self.script_written.emit(run_id, script)
            case ev.ScenesPlanned(run_id=run_id, scenes=scenes, shots=shots):
                self.scenes_planned.emit(run_id, scenes, shots)
            case ev.ShotStarted(shot=shot):
                self.shot_started.emit(shot)
            case ev.ShotRetrying(shot=shot, error=error, delay_s=delay):
                self.shot_retrying.emit(shot, error, delay)
            case ev.ShotFinished(shot=shot):
                self.shot_finished.emit(shot)
            case ev.RunFinished(run=run):
                self.run_finished.emit(run)
            case ev.RunDetached(run=run):
                self.run_detached.emit(run)
