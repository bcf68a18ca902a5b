"""The whole run as one JSON document (``storyboard.json``): the run record, its
scenes, and every shot in story order with where its image is.

The document is the run as history holds it (no secrets live there), plus a
``format`` marker and, for every shot, ``scene_heading`` and ``image_file``:
a path relative to the document inside a ZIP, an absolute path otherwise.
Time is the board's: every shot's ``seconds`` is how long it is held
(``app.core.timing``: its ``duration_s`` as the artist set it, or, when that is
null, from its dialogue) and the run's ``duration_s`` is the board's running
time. The run's ``aspect``, ``width`` and ``height`` say its frame; each shot
has its ``note``. The document still reads back as the same run and shots.
"""

from __future__ import annotations

import json
from typing import Any

from app import __version__
from app.core.export.base import ExportJob, Panel, in_thread
from app.core.models import Run, utcnow
from app.core.timing import board_duration, shot_duration

FORMAT = "storyreel.storyboard"
FORMAT_VERSION = 1


def storyboard_document(run: Run, panels: list[Panel],
                        image_files: dict[str, str | None]) -> dict[str, Any]:
    """A JSON-ready dict of ``run``; ``image_files`` maps shot ids to where their image is."""
    shots = []
    for panel in panels:
        shot = panel.shot.model_dump(mode="json")
        shot["scene_heading"] = panel.heading
        shot["image_file"] = image_files.get(panel.shot.shot_id)
        shot["seconds"] = shot_duration(panel.shot)
        shots.append(shot)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "software": f"storyreel {__version__}",
        "exported_at": utcnow().isoformat(),
        **run.model_dump(mode="json"),
        "duration_s": board_duration(p.shot for p in panels),
        "shots": shots,
    }


def storyboard_json(run: Run, panels: list[Panel], image_files: dict[str, str | None]) -> str:
    return json.dumps(storyboard_document(run, panels, image_files), indent=2,
                      ensure_ascii=False) + "\n"


async def write_json(job: ExportJob) -> None:
    files = {p.shot.shot_id: str(p.image) if p.image else None for p in job.panels}
    text = storyboard_json(job.run, job.panels, files)
    await in_thread(job, job.temp.write_text, text, encoding="utf-8", newline="\n")
