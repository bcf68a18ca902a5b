"""The core's words, translated: statuses and stages (context ``Status``), shot types
(``ShotType``), what runs where (``Parts``), and dates and numbers the locale's way.

The core's enums, its ``Progress.describe``, ``ShotType.label`` and
``Settings.summary()`` are English for the CLI; the window says the same things
in the person's language from here. Each string is a literal so that
``lupdate`` finds it. In English the words are the core's own, letter for
letter (the tests compare them).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from PySide6.QtCore import QCoreApplication, QLocale

from app.core.models import RunStatus, Shot, ShotStatus, ShotType, Stage
from app.core.progress import Progress
from app.core.settings import Part, Settings

# The core's ``error`` of a run or shot cut off by a cancel: the status says it already.
CANCELLED_REASON = "cancelled"


def decimal(value: float, places: int = 1) -> str:
    """A number written the locale's way (a decimal comma in French)."""
    return QLocale().toString(float(value), "f", places)


def date_time_text(moment: datetime) -> str:
    """A moment in local time, the locale's way: its long date and short time
    ("Friday, 27 November 2026, 18:30"; "vendredi 27 novembre 2026 à 18:30")."""
    local = moment.astimezone()
    locale = QLocale()
    date = locale.toString(local.date(), QLocale.FormatType.LongFormat)
    time = locale.toString(local.time(), QLocale.FormatType.ShortFormat)
    return QCoreApplication.translate("Status", "%1, %2", "a date, then a time").replace(
        "%1", date).replace("%2", time)


def shot_type_text(shot_type: ShotType) -> str:
    """A shot type's name (the window's ``ShotType.label``)."""
    translate = QCoreApplication.translate
    return {ShotType.EXTREME_WIDE: translate("ShotType", "extreme wide"),
            ShotType.WIDE: translate("ShotType", "wide"),
            ShotType.MEDIUM: translate("ShotType", "medium"),
            ShotType.MEDIUM_CLOSE_UP: translate("ShotType", "medium close-up"),
            ShotType.CLOSE_UP: translate("ShotType", "close-up"),
            ShotType.EXTREME_CLOSE_UP: translate("ShotType", "extreme close-up"),
            ShotType.TWO_SHOT: translate("ShotType", "two-shot"),
            ShotType.OVER_THE_SHOULDER: translate("ShotType", "over the shoulder"),
            ShotType.POV: translate("ShotType", "point of view"),
            ShotType.INSERT: translate("ShotType", "insert")}.get(shot_type, shot_type.label)


# What runs where: the window's ``Settings.parts()`` and ``summary()``.

DRAFT = "draft (offline)"  # the draft writer's and renderer's name (``name`` in the core)


def engine_text(name: str) -> str:
    """A writer's or renderer's name as a run records it ("RunPod x" stays as it is)."""
    if name == DRAFT:
        return QCoreApplication.translate("Parts", "draft (offline)")
    return name


def part_text(part: Part, settings: Settings) -> str:
    """One part of ``settings.parts()``: "Storage: R2 bucket reels", in the window's words."""
    translate = QCoreApplication.translate
    label = {"writer": translate("Parts", "Writer: %1"),
             "renderer": translate("Parts", "Renderer: %1"),
             "storage": translate("Parts", "Storage: %1"),
             "history": translate("Parts", "History: %1")}.get(part.name)
    return label.replace("%1", part_detail(part, settings)) if label else str(part)


def part_detail(part: Part, settings: Settings) -> str:
    """How one part runs ("R2 bucket reels"): ``part.detail`` in the window's words.

    The details are made again here from the settings, with the words translated; names
    (endpoints, buckets, hosts, folders) are shown as they are. A detail this function
    does not know is shown as the core wrote it."""
    translate = QCoreApplication.translate
    detail = part.detail
    openai = settings.writer_base_url is not None and not settings.runpod_writer_endpoint
    match part.name, part.mode:
        case ("writer" | "renderer", "embedded"):
            detail = translate("Parts", "draft (offline)")
        case ("writer", "cloud") if openai:
            detail = translate("Parts", "OpenAI-compatible %1 at %2").replace(
                "%1", str(settings.writer_model)).replace(
                "%2", urlsplit(settings.writer_base_url).netloc)
        case ("storage", "cloud"):
            detail = translate("Parts", "R2 bucket %1").replace("%1", str(settings.r2_bucket))
        case ("storage", "embedded"):
            detail = translate("Parts", "local folder %1").replace("%1", str(settings.blobs_dir))
        case ("history", "embedded"):
            detail = translate("Parts", "embedded (%1)").replace("%1", str(settings.db_dir))
    return detail


def where_lines(settings: Settings) -> list[str]:
    """Each part of the app and where it runs, one line each (the status bar's tooltip)."""
    return [part_text(part, settings) for part in settings.parts()]


def where_text(settings: Settings) -> str:
    """The status bar's summary: ``Settings.summary()`` in the window's language."""
    return " · ".join(where_lines(settings))


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

