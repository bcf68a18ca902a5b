"""The words for shot and run statuses and run stages, translated (context ``Status``).

The core's enums and its ``Progress.describe`` are English for the CLI; the
window says the same things in the person's language from here. Each string
is a literal so that ``lupdate`` finds it.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLocale

from app.core.models import RunStatus, Shot, ShotStatus, Stage
from app.core.progress import Progress


def decimal(value: float, places: int = 1) -> str:
    """A number written the locale's way (a decimal comma in French)."""
    return QLocale().toString(float(value), "f", places)


def shot_status_text(shot: Shot, elapsed: float | None) -> str:
    """A card's status line: queued, rendering with its elapsed time, done, failed (why)."""
    translate = QCoreApplication.translate
    match shot.status:
        case ShotStatus.QUEUED:
            if shot.error:
                return translate("Status", "waiting to retry")
            return translate("Status", "queued")
        case ShotStatus.RENDERING:
            if elapsed is None:
                return translate("Status", "rendering")
            return translate("Status", "rendering · %1 s").replace("%1", f"{elapsed:.0f}")
        case ShotStatus.DONE:
            took = shot.timings.get("wall_s")
            if took is None:
                return translate("Status", "done")
            return translate("Status", "done in %1 s").replace("%1", decimal(took))
        case ShotStatus.FAILED:
            if shot.error:
                return translate("Status", "failed: %1").replace("%1", shot.error)
            return translate("Status", "failed")
        case _:
            return translate("Status", "cancelled")


def shot_status_word(status: ShotStatus) -> str:
    """One word for a shot status (placeholders, the detail view)."""
    translate = QCoreApplication.translate
    return {ShotStatus.QUEUED: translate("Status", "queued"),
            ShotStatus.RENDERING: translate("Status", "rendering"),
            ShotStatus.DONE: translate("Status", "done"),
            ShotStatus.FAILED: translate("Status", "failed"),
            ShotStatus.CANCELLED: translate("Status", "cancelled")}.get(status, status.value)


def run_status_text(status: RunStatus) -> str:
    translate = QCoreApplication.translate
    return {RunStatus.RUNNING: translate("Status", "running"),
            RunStatus.COMPLETED: translate("Status", "completed"),
            RunStatus.PARTIAL: translate("Status", "partly done"),
            RunStatus.FAILED: translate("Status", "failed"),
            RunStatus.CANCELLED: translate("Status", "cancelled")}.get(status, status.value)


def stage_text(progress: Progress) -> str:
    """What a live run is doing (the window's version of ``Progress.describe``)."""
    translate = QCoreApplication.translate
    if progress.stage is Stage.RENDERING_SHOTS:
        text = translate("Status", "rendering shots %1/%2").replace(
            "%1", str(progress.done)).replace("%2", str(progress.total))
        if progress.in_flight:
            flying = str(len(progress.in_flight))
            text += translate("Status", ", %1 in flight").replace("%1", flying)
        if progress.failed:
            text += translate("Status", ", %1 failed").replace("%1", str(progress.failed))
        return text
    return {Stage.QUEUED: translate("Status", "queued"),
            Stage.WRITING_SCRIPT: translate("Status", "writing the script"),
            Stage.PLANNING_SCENES: translate("Status", "planning scenes and shots"),
            Stage.DONE: translate("Status", "done")}.get(progress.stage, progress.stage.value)

