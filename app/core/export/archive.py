"""A ZIP of the storyboard: the images named in story order (``001_1A.png``,
``002_1B.png``, ...), ``storyboard.json`` (the whole run, each shot pointing at
its image inside the archive) and the screenplay as ``screenplay.fountain``.

The number is the shot's position among all shots of the run, so a shot
without an image leaves a visible gap and names stay stable between exports.
PNG and JPEG are stored as they are (already compressed); text is deflated.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from app.core.export.base import ExportJob, Panel, file_safe, in_thread
from app.core.export.document import storyboard_json

DOCUMENT = "storyboard.json"
SCREENPLAY = "screenplay.fountain"
_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def member_name(panel: Panel, width: int = 3) -> str:
    """``001_1A.png``: position in the story, shot number, and the image's own suffix."""
    image = panel.shot.image
    suffix = _SUFFIXES.get(image.mime if image else "", "") or \
        (panel.image.suffix.lower() if panel.image else ".png")
    return f"{panel.position:0{width}d}_{file_safe(panel.shot.number)}{suffix}"


def member_names(panels: list[Panel]) -> dict[str, str]:
    """Member name of every panel that has an image, by shot id."""
    width = max(3, len(str(len(panels))))
    return {p.shot.shot_id: member_name(p, width) for p in panels if p.image is not None}


async def write_zip(job: ExportJob) -> None:
    await in_thread(job, _write, job)


def _write(job: ExportJob) -> None:
    names = member_names(job.panels)
    images = [(p.image, names[p.shot.shot_id]) for p in job.panels if p.image is not None]
    steps = len(images) + 2
    with zipfile.ZipFile(job.temp, "w", allowZip64=True) as archive:
        for n, (path, name) in enumerate(images, 1):
            job.check_stop()
            _add_file(archive, Path(path), name)
            job.report(n / steps, f"added {name}")
        archive.writestr(DOCUMENT, storyboard_json(job.run, job.panels, names),
                         compress_type=zipfile.ZIP_DEFLATED)
        if job.run.script and job.run.script.screenplay.strip():
            text = job.run.script.screenplay
            archive.writestr(SCREENPLAY, text if text.endswith("\n") else text + "\n",
                             compress_type=zipfile.ZIP_DEFLATED)
        job.report((steps - 1) / steps, f"added {DOCUMENT}")


def _add_file(archive: zipfile.ZipFile, path: Path, name: str) -> None:
    # Not archive.write(path): its time stamp is the file's, and a file dated before 1980
    # (a restored backup, a clock reset) cannot go into a ZIP at all.
    info = zipfile.ZipInfo.from_file(path, name, strict_timestamps=False)
    info.compress_type = zipfile.ZIP_STORED
    with open(path, "rb") as src, archive.open(info, "w") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
