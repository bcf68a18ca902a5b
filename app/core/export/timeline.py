"""An OpenTimelineIO timeline of the shots, for editors (Resolve imports .otio natively).

Timeline -> one video Track -> one Clip per shot in board order, held for the
shot's duration (its own, ``app.core.timing``, unless the export options set
one), its media an ExternalReference to the image file (a file:// URL,
percent-encoded) whose image bounds have the board's aspect ratio (OTIO's
convention: height 1, centred on 0). A shot without an image gets a
MissingReference, so the cut keeps its length and the editor sees the hole. The
first clip of every scene carries a marker named after the scene heading. Each
clip's metadata holds the shot (number, type, camera, description, dialogue,
prompt, seed, the artist's ``duration_s`` or null, ``seconds`` as held here,
note); the timeline's, the run, its frame and its running time (``duration_s``).
"""

from __future__ import annotations

from typing import Any

from app.core.export.base import ExportJob, ExportToolMissing, Panel, in_thread


def _otio() -> Any:
    try:
        import opentimelineio
    except ImportError:
        raise ExportToolMissing(
            "otio export needs OpenTimelineIO: pip install 'opentimelineio>=0.17'") from None
    return opentimelineio


def build_timeline(job: ExportJob) -> Any:
    """The ``opentimelineio.schema.Timeline`` of ``job`` (pure; nothing is written)."""
    otio = _otio()
    fps = job.options.fps
    timeline = otio.schema.Timeline(name=job.title)
    timeline.metadata["storyreel"] = {
        "run_id": job.run.run_id,
        "title": job.title,
        "logline": job.run.script.logline if job.run.script else "",
        "seed": job.run.seed,
        "style": job.run.style or "",
        "aspect": job.run.aspect,
        "width": job.run.width,
        "height": job.run.height,
        "duration_s": job.running_time,
    }
    half = job.aspect / 2
    bounds = otio.schema.Box2d(otio.schema.V2d(-half, -0.5), otio.schema.V2d(half, 0.5))
    track = otio.schema.Track(name="Storyboard", kind=otio.schema.TrackKind.Video)
    scene = None
    for panel in job.panels:
        frames = job.options.frames_for(panel.shot)
        span = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps),
                                       otio.opentime.RationalTime(frames, fps))
        if panel.image is not None:
            media = otio.schema.ExternalReference(target_url=panel.image.absolute().as_uri(),
                                                  available_range=span,
                                                  available_image_bounds=bounds)
        else:
            media = otio.schema.MissingReference(name=f"{panel.shot.number} (no image)")
        clip = otio.schema.Clip(name=_clip_name(panel), media_reference=media, source_range=span)
        clip.metadata["storyreel"] = {**_shot_metadata(panel),
                                      "seconds": round(frames / fps, 6)}
        if panel.shot.scene != scene:
            scene = panel.shot.scene
            clip.markers.append(otio.schema.Marker(
                name=panel.heading or f"Scene {scene}",
                marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps),
                                                     otio.opentime.RationalTime(0, fps)),
                color=otio.schema.MarkerColor.GREEN))
        track.append(clip)
    timeline.tracks.append(track)
    return timeline


def _clip_name(panel: Panel) -> str:
    return f"{panel.shot.number} {panel.shot.shot_type.value}"


def _shot_metadata(panel: Panel) -> dict[str, Any]:
    shot = panel.shot
    return {
        "shot_id": shot.shot_id, "number": shot.number, "scene": shot.scene,
        "scene_heading": panel.heading, "shot_type": shot.shot_type.value,
        "camera": shot.camera, "description": shot.description, "dialogue": shot.dialogue,
        "characters": list(shot.characters), "prompt": shot.prompt, "seed": shot.seed,
        "status": shot.status.value, "duration_s": shot.duration_s, "note": shot.note,
    }


async def write_otio(job: ExportJob) -> None:
    def write() -> None:
        otio = _otio()
        text = otio.adapters.write_to_string(build_timeline(job), "otio_json")
        job.temp.write_text(text, encoding="utf-8", newline="\n")

    await in_thread(job, write)
