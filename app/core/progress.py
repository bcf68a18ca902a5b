"""Progress of a run, followed from its events; and a printer of it for terminals.

``Progress`` is plain state (stage, shots done of total, failures) that any
front end can show. ``ProgressPrinter`` writes it to a text stream for people:
one updating line on a terminal, a line per step elsewhere (logs, CI).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TextIO

from app.core import events as ev
from app.core.models import ShotStatus, Stage
from app.core.text import printable

STAGE_TEXT = {
    Stage.QUEUED: "queued",
    Stage.WRITING_SCRIPT: "writing the script",
    Stage.PLANNING_SCENES: "planning scenes and shots",
    Stage.RENDERING_SHOTS: "rendering shots",
    Stage.DONE: "done",
}


@dataclass
class Progress:
    stage: Stage = Stage.QUEUED
    title: str = ""
    scenes: int = 0
    total: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    in_flight: set[str] = field(default_factory=set)
    retries: int = 0

    def update(self, event: ev.Event) -> None:
        match event:
            case ev.StageStarted(stage=stage):
                self.stage = stage
            case ev.ScriptWritten(script=script):
                self.title = script.title
            case ev.ScenesPlanned(scenes=scenes, shots=shots):
                self.scenes, self.total = len(scenes), len(shots)
            case ev.RunStarted(run=run):
                self.title = run.title
                if run.shots:  # a resumed or retried run
                    self.scenes, self.total = len(run.scenes), len(run.shots)
                    self.done = sum(1 for s in run.shots if s.status is ShotStatus.DONE)
            case ev.ShotStarted(shot=shot):
                self.in_flight.add(shot.shot_id)
            case ev.ShotRetrying(shot=shot):
                self.in_flight.discard(shot.shot_id)
                self.retries += 1
            case ev.ShotFinished(shot=shot):
                self.in_flight.discard(shot.shot_id)
                if shot.status is ShotStatus.DONE:
                    self.done += 1
                elif shot.status is ShotStatus.FAILED:
                    self.failed += 1
                else:
                    self.cancelled += 1
            case ev.RunFinished():
                self.stage = Stage.DONE

    def describe(self) -> str:
        if self.stage is Stage.RENDERING_SHOTS:
            text = f"rendering shots {self.done}/{self.total}"
            if self.in_flight:
                text += f", {len(self.in_flight)} in flight"
            if self.failed:
                text += f", {self.failed} failed"
            return text
        return STAGE_TEXT[self.stage]


class ProgressPrinter:
    """An event listener that prints progress for a person."""

    def __init__(self, stream: TextIO, *, label: str) -> None:
        self.stream = stream
        self.label = label
        self.progress = Progress()
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._last_line = ""
        self._last_step = -1

    def __call__(self, event: ev.Event) -> None:
        self.progress.update(event)
        match event:
            case ev.RunStarted(run=run):
                self._line(f"run {run.run_id} ({run.writer} writer, {run.renderer} renderer)")
            case ev.RunTakenOver(message=message):
                self._line(message)
            case ev.StageStarted(stage=stage) if stage is not Stage.RENDERING_SHOTS:
                self._line(STAGE_TEXT[stage] + "…")
            case ev.ScenesPlanned(run_id=run_id, shots=shots):
                p = self.progress
                drawn = len({s.scene for s in shots})
                more = (f" (storyboarding {drawn} of {p.scenes} scenes; the other "
                        f"{p.scenes - drawn} stay in the script: `storyreel resume {run_id} "
                        f"--scenes N-M` draws them)" if drawn < p.scenes else "")
                self._line(f"“{p.title}”: {p.scenes} scenes, {p.total} shots{more}")
            case ev.ShotRetrying(shot=shot, error=error, delay_s=delay):
                self._line(f"shot {shot.number} failed ({error}); retrying in {delay:.1f} s")
            case ev.ShotFinished(shot=shot) if shot.status is ShotStatus.FAILED:
                self._line(f"shot {shot.number} failed for good: {shot.error}")
            case ev.ShotFinished() | ev.ShotStarted():
                self._shot_progress()
            case ev.RunFinished(run=run):
                self._end_status()
                took = time.monotonic() - self._started
                extra = f": {run.error}" if run.error and run.status.value != "completed" else ""
                self._line(f"{run.status.value}, {run.shots_done}/{run.shot_count} shots "
                           f"in {took:.1f} s{extra}")

    def _shot_progress(self) -> None:
        text = self.progress.describe()
        if self.tty:
            self.stream.write(f"\r\033[K[{printable(self.label, one_line=True)}] "
                              f"{printable(text, one_line=True)}")
            self.stream.flush()
            self._last_line = text
            return
        total = max(1, self.progress.total)
        step = (self.progress.done + self.progress.failed) * 10 // total
        if step != self._last_step:  # a line per tenth of the shots
            self._last_step = step
            self._line(text)

    def _end_status(self) -> None:
        if self.tty and self._last_line:
            self.stream.write("\r\033[K")
            self._last_line = ""

    def _line(self, text: str) -> None:
        self._end_status()
        # Titles, errors and file names are untrusted: no control character reaches the
        # terminal (see app.core.text).
        self.stream.write(f"[{printable(self.label, one_line=True)}] "
                          f"{printable(text, one_line=True)}\n")
        self.stream.flush()
