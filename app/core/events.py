"""Typed events the pipeline emits while a run goes on.

Plain Python: the UI wraps them in Qt signals, the CLI prints them, tests
record them. Every event carries the run id; shot events carry a copy of the
shot as it was at that moment, so a listener never sees a later state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.core.models import Run, Scene, Script, Shot, Stage


@dataclass(frozen=True, slots=True)
class Event:
    run_id: str


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    run: Run


@dataclass(frozen=True, slots=True)
class StageStarted(Event):
    stage: Stage


@dataclass(frozen=True, slots=True)
class ScriptWritten(Event):
    script: Script


@dataclass(frozen=True, slots=True)
class ScenesPlanned(Event):
    scenes: tuple[Scene, ...]
    shots: tuple[Shot, ...]


@dataclass(frozen=True, slots=True)
class ShotStarted(Event):
    shot: Shot


@dataclass(frozen=True, slots=True)
class ShotRetrying(Event):
    shot: Shot
    error: str
    delay_s: float


@dataclass(frozen=True, slots=True)
class ShotFinished(Event):
    """A shot reached a final state: done, failed (retries exhausted) or cancelled."""

    shot: Shot


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    run: Run


@dataclass(frozen=True, slots=True)
class RunDetached(Event):
    """The app stopped following a run without ending it (closing with cloud jobs kept
    running); it stays ``running`` in history, to be resumed."""

    run: Run


@dataclass(frozen=True, slots=True)
class RunTakenOver(Event):
    """This process took the run over from an owner that stopped (see
    ``app.core.ownership``); ``message`` says from whom."""

    message: str


@dataclass(frozen=True, slots=True)
class BoardChanged(Event):
    """A board edit was saved (``app.core.board``): shots added, deleted, moved or changed,
    or the frame. ``run`` is the run as saved, its shots in board order; ``shot_id`` the
    shot acted on; ``stale`` the shots the edit left stale; ``removed`` the ids deleted."""

    run: Run
    shot_id: str | None
    stale: tuple[str, ...]
    removed: tuple[str, ...]


Listener = Callable[[Event], None]
