"""Exports of a run: the screenplay, the storyboard as data, a ZIP of images, a
printable PDF, an MP4 animatic and an OpenTimelineIO timeline.

One entry point, ``export_run``; ``FORMATS`` maps each format name to what it
writes. Blocking work (drawing, encoding, file I/O) runs in threads, never on
the event loop; progress is delivered on the loop's thread. The output appears
at its path only when it is complete: it is written to a temporary file beside
it and renamed.

Libraries a format needs (reportlab, opentimelineio, imageio-ffmpeg) are
imported when that format is used, so a missing one fails that export with
``ExportToolMissing`` rather than breaking the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import StoryreelError
from app.core.export import (
    animatic,
    archive,
    document,
    fdx,
    fountain,
    pdf,
    screenplay_pdf,
    timeline,
)
from app.core.export.base import (
    BadExportOptions,
    EncodeError,
    ExportError,
    ExportJob,
    ExportOptions,
    ExportTargetError,
    ExportToolMissing,
    NothingToExport,
    Panel,
    Progress,
    Reporter,
    UnknownFormat,
    check_target,
    discard,
    in_thread,
    publish,
    reserve_temp,
    slug,
    story_order,
)
from app.core.files import disk_error
from app.core.models import ImageRef, Run

__all__ = [
    "FORMATS",
    "BadExportOptions",
    "EncodeError",
    "ExportError",
    "ExportFormat",
    "ExportOptions",
    "ExportTargetError",
    "ExportToolMissing",
    "NothingToExport",
    "UnknownFormat",
    "collect_panels",
    "export_run",
    "suggested_filename",
]

log = logging.getLogger(__name__)

ImagePath = Callable[[ImageRef], Awaitable[Path | None]]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    suffix: str  # added to an output path that has none
    description: str
    needs: str  # "script", "images" or "" (anything goes)
    write: Callable[[ExportJob], Awaitable[None]]


FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("pdf", ".pdf", "printable storyboard: title page, then panels in a grid",
                 "images", pdf.write_pdf),
    ExportFormat("fountain", ".fountain", "the screenplay (Fountain)", "script",
                 fountain.write_fountain),
    ExportFormat("zip", ".zip", "images in story order, storyboard.json and the screenplay",
                 "images", archive.write_zip),
    ExportFormat("mp4", ".mp4", "animatic: each shot held for its duration (H.264)", "images",
                 animatic.write_mp4),
    ExportFormat("otio", ".otio", "OpenTimelineIO timeline of the shots, for editors", "images",
                 timeline.write_otio),
    ExportFormat("json", ".json", "the whole run with its shots (storyboard.json)", "",
                 document.write_json),
    ExportFormat("fdx", ".fdx", "the screenplay as Final Draft XML", "script",
                 fdx.write_fdx),
    ExportFormat("screenplay-pdf", ".pdf", "the screenplay, formatted for print (Courier 12)",
                 "script", screenplay_pdf.write_screenplay_pdf),
)}


async def export_run(
    run: Run,
    fmt: str,
    out: Path,
    *,
    image_path: ImagePath,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
    scratch: Path | None = None,
) -> Path:
    """Write ``run`` as ``fmt`` to ``out`` and return the path written.

    ``out`` gets the format's suffix when it has none. ``image_path`` gives a
    local file for an image (``Services.image_path``). ``progress(fraction,
    message)`` is called on the event loop's thread, fractions never going
    back. ``scratch`` is a folder for work files (the mp4's frames; pass the data
    folder's ``tmp``, so what a killed export leaves is swept later). Raises an
    ``ExportError`` subclass with a one-line message; on any failure or cancellation
    nothing is left at ``out``.
    """
    spec = FORMATS.get(fmt.strip().lower()) if isinstance(fmt, str) else None
    if spec is None:
        raise UnknownFormat(str(fmt), list(FORMATS))
    options = options or ExportOptions()
    if spec.needs == "script" and (run.script is None or not run.script.screenplay.strip()):
        raise NothingToExport(f"run {run.run_id} has no script yet; nothing to export as "
                              f"{spec.name}")
    if spec.needs == "images" and not any(s.image for s in run.shots):
        raise NothingToExport(f"run {run.run_id} has no rendered images "
                              f"({len(run.shots)} shots, none done); nothing to export as "
                              f"{spec.name}")
    target = await asyncio.to_thread(check_target, Path(out), spec.suffix, options.overwrite)
    panels = await collect_panels(run, image_path)
    if spec.needs == "images" and not any(p.image for p in panels):
        raise NothingToExport(f"none of the {len(panels)} images of run {run.run_id} is "
                              "available as a local file; nothing to export as "
                              f"{spec.name}")

    report = Reporter(progress, asyncio.get_running_loop())
    report(0.0, f"exporting {spec.name} to {target.name}")
    temp = await _reserve(target)
    try:  # formats run their blocking work through in_thread: none is left running here
        await spec.write(ExportJob(run, panels, options, target, temp, report,
                                   scratch=scratch))
        await in_thread(None, publish, temp, target, options.overwrite)
    except OSError as exc:  # a full or read-only disk: say which, not a traceback
        discard(temp)
        error = disk_error(exc, exc.filename or target)
        if error is None:
            raise
        raise error from None
    except BaseException:
        discard(temp)  # a quick unlink; also on cancellation
        raise
    missing = sum(1 for p in panels if p.image is None)
    note = f" ({missing} shots without an image)" if missing and spec.needs == "images" else ""
    report(1.0, f"wrote {target}{note}")
    return target


async def _reserve(target: Path) -> Path:
    """``reserve_temp`` in a thread; if cancelled meanwhile, the file it made is removed."""
    reserving = asyncio.ensure_future(asyncio.to_thread(reserve_temp, target))
    try:
        return await asyncio.shield(reserving)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            discard(await reserving)
        raise


def suggested_filename(run: Run, fmt: str) -> str:
    """A file name for a save dialog: ``mara-and-the-lamp.pdf``."""
    spec = FORMATS.get(fmt.strip().lower())
    if spec is None:
        raise UnknownFormat(fmt, list(FORMATS))
    return slug(run.title or (run.script.title if run.script else ""), run.run_id) + spec.suffix


async def collect_panels(run: Run, image_path: ImagePath) -> list[Panel]:
    """Every shot of ``run`` in story order, with its image as an existing local file or None."""
    headings = {scene.index: scene.heading for scene in run.scenes}
    shots = story_order(run.shots)
    paths: list[Path | None] = []
    for shot in shots:
        path = None
        if shot.image is not None:
            try:
                path = await image_path(shot.image)
            except StoryreelError as exc:  # e.g. a blob that can no longer be fetched
                log.warning("image of shot %s unavailable for export: %s", shot.shot_id, exc)
        paths.append(Path(path) if path is not None else None)
    exists = await asyncio.to_thread(lambda: [p is not None and p.is_file() for p in paths])
    return [Panel(position=n, shot=shot, heading=headings.get(shot.scene, ""),
                  image=path if ok else None)
            for n, (shot, path, ok) in enumerate(zip(shots, paths, exists, strict=True), 1)]
