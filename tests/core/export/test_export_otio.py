"""The OpenTimelineIO timeline, read back with OpenTimelineIO."""

from __future__ import annotations

import opentimelineio as otio
from opentimelineio.url_utils import filepath_from_url

from app.core.export import ExportOptions, export_run
from tests.core.export.boards import make_board


async def test_one_clip_per_shot_held_for_its_duration_pointing_at_its_image(board, tmp_path):
    first = board.run.shots[0].shot_id
    options = ExportOptions(seconds_per_shot=2.0, shot_seconds={first: 3.5})
    written = await export_run(board.run, "otio", tmp_path / "cut.otio",
                               image_path=board.image_path, options=options)
    timeline = otio.adapters.read_from_file(str(written))
    assert timeline.name == board.run.title
    [track] = timeline.tracks
    assert track.kind == otio.schema.TrackKind.Video
    clips = list(timeline.find_clips())
    shots = board.run.shots
    assert [c.name for c in clips] == [f"{s.number} {s.shot_type.value}" for s in shots]
    assert clips[0].duration() == otio.opentime.RationalTime(84, 24)
    assert all(c.duration() == otio.opentime.RationalTime(48, 24) for c in clips[1:])
    assert timeline.duration().to_seconds() == 3.5 + 2 * (len(shots) - 1)
    for clip, shot in zip(clips, shots, strict=True):
        ref = clip.media_reference
        assert isinstance(ref, otio.schema.ExternalReference)
        assert filepath_from_url(ref.target_url) == str(board.file_of(shot.shot_id))
        assert clip.metadata["storyreel"]["shot_id"] == shot.shot_id
        assert clip.metadata["storyreel"]["prompt"] == shot.prompt
    # a marker at the first shot of every scene, named by its heading
    markers = [(c.name, m.name) for c in clips for m in c.markers]
    assert [m for _, m in markers] == [s.heading for s in board.run.scenes]
    assert timeline.metadata["storyreel"]["run_id"] == board.run.run_id


async def test_paths_with_spaces_and_missing_images(tmp_path):
    board = await make_board(tmp_path / "my storyboards", max_shots=3)
    board.run.shots[2].image = None
    written = await export_run(board.run, "otio", tmp_path / "cut", image_path=board.image_path)
    assert written.suffix == ".otio"
    clips = list(otio.adapters.read_from_file(str(written)).find_clips())
    assert len(clips) == 3
    url = clips[0].media_reference.target_url
    assert "my%20storyboards" in url and " " not in url
    assert filepath_from_url(url) == str(board.file_of(board.run.shots[0].shot_id))
    assert isinstance(clips[2].media_reference, otio.schema.MissingReference)
    assert clips[2].duration().to_seconds() == 2.0
