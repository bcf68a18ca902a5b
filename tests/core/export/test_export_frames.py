"""Exports follow the board: its aspect ratio (pdf, mp4, otio, zip, json) and every shot's
own duration (mp4, otio), in board order."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import imageio_ffmpeg
import opentimelineio as otio
import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream

from app.core.export import ExportOptions, export_run
from app.core.export.animatic import video_size
from app.core.export.pdf import MARGIN, NOTE_LINES, layout_for
from app.core.history.memory import MemoryHistory
from app.core.ideas import read
from app.core.models import RunOptions, RunStatus
from app.core.pipeline import Pipeline
from app.core.renderers.draft import DraftRenderer
from app.core.storage.local import LocalBlobStore
from app.core.timing import shot_duration
from app.core.writers.draft import DraftWriter
from tests.conftest import SAMPLES
from tests.core.export.boards import Board
from tests.core.export.test_export_mp4 import decoded_frames, probe

FPS = 24


async def framed_board(root: Path, aspect: str, *, max_shots: int = 3,
                       size: tuple[int, int] | None = None) -> Board:
    """A draft board of ``aspect``: at the draft renderer's own size, or a small one."""
    store = LocalBlobStore(root / "blobs")
    history = MemoryHistory()
    [idea] = read(SAMPLES / "lighthouse.txt")
    width, height = size or (None, None)
    run = await Pipeline(DraftWriter(), DraftRenderer(store), history, concurrency=4).start(
        idea, RunOptions(seed=3, max_shots=max_shots, aspect=aspect, width=width,
                         height=height))
    assert run.status is RunStatus.COMPLETED, run.error
    return Board(run, store, history)


def images_drawn(page) -> list[tuple[float, float]]:
    """Width and height (points) of every image drawn on a PDF page, from its content."""
    drawn, matrix = [], None
    for operands, operator in ContentStream(page.get_contents(), page.pdf).operations:
        if operator == b"cm":
            matrix = [float(v) for v in operands]
        elif operator == b"Do" and matrix is not None:
            drawn.append((matrix[0], matrix[3]))
    return drawn


# Draft panels and the mp4 of a portrait board.


async def test_a_9_16_board_is_portrait_from_its_panels_to_its_mp4(tmp_path):
    board = await framed_board(tmp_path, "9:16", max_shots=2)
    assert (board.run.width, board.run.height) == (576, 1024)
    for shot in board.run.shots:
        with Image.open(board.file_of(shot.shot_id)) as image:
            assert image.size == (576, 1024)
    written = await export_run(board.run, "mp4", tmp_path / "tall.mp4",
                               image_path=board.image_path,
                               options=ExportOptions(video_width=256))
    assert re.search(r"Video: h264 .*, 144x256", probe(written)), probe(written)
    meta, _ = decoded_frames(written)
    assert tuple(meta["size"]) == (144, 256)
    assert video_size(9 / 16, 1280) == (720, 1280) and video_size(16 / 9, 1280) == (1280, 720)
    assert video_size(2.39, 1280) == (1280, 536)


# Time: each shot held for its own duration, unless the export says otherwise.


async def test_a_shot_of_4_5_seconds_holds_108_frames_in_the_timeline_and_the_mp4(tmp_path):
    board = await framed_board(tmp_path, "16:9", size=(128, 72))
    shots = board.run.shots
    shots[1].duration_s = 4.5
    held = [round(shot_duration(s) * FPS) for s in shots]
    assert held[1] == 108 and held[0] == held[2] == 48  # the others: silent, 2 s each

    cut = await export_run(board.run, "otio", tmp_path / "cut.otio", image_path=board.image_path)
    timeline = otio.adapters.read_from_file(str(cut))
    clips = list(timeline.find_clips())
    assert [c.duration().value for c in clips] == held
    assert clips[1].duration() == otio.opentime.RationalTime(108, FPS)
    assert clips[1].metadata["storyreel"]["seconds"] == 4.5
    assert clips[1].metadata["storyreel"]["duration_s"] == 4.5
    assert timeline.metadata["storyreel"]["duration_s"] == 8.5

    animatic = await export_run(board.run, "mp4", tmp_path / "a.mp4",
                                image_path=board.image_path,
                                options=ExportOptions(video_width=128))
    assert "Duration: 00:00:08.50" in probe(animatic)
    assert imageio_ffmpeg.count_frames_and_secs(str(animatic))[0] == sum(held) == 204
    _, frames = decoded_frames(animatic)
    # which panel is on screen, frame by frame: each panel's own picture changes at the cut
    cuts = [n for n in range(1, len(frames))
            if _distance(frames[n - 1], frames[n]) > 6]
    assert cuts == [48, 48 + 108]


async def test_every_shot_keeps_its_own_time_unless_the_export_sets_one(tmp_path):
    board = await framed_board(tmp_path, "16:9", size=(128, 72))
    shots = board.run.shots
    shots[0].duration_s = 3.0
    shots[2].dialogue = "one two three four five six seven eight nine ten"  # 4 s + air
    own = ExportOptions()
    assert [own.seconds_for(s) for s in shots] == [3.0, 2.0, 4.5]
    every = ExportOptions(seconds_per_shot=1.5, shot_seconds={shots[1].shot_id: 0.5})
    assert [every.seconds_for(s) for s in shots] == [1.5, 0.5, 1.5]
    override = ExportOptions(shot_seconds={shots[2].shot_id: 1.0})
    assert [override.seconds_for(s) for s in shots] == [3.0, 2.0, 1.0]
    cut = await export_run(board.run, "otio", tmp_path / "cut.otio",
                           image_path=board.image_path)
    assert otio.adapters.read_from_file(str(cut)).duration().to_seconds() == 9.5


async def test_exports_follow_the_board_order_not_the_list_order(tmp_path):
    board = await framed_board(tmp_path, "16:9", size=(128, 72))
    board.run.shots.reverse()  # as a store might hand them back
    cut = await export_run(board.run, "otio", tmp_path / "cut.otio", image_path=board.image_path)
    names = [c.metadata["storyreel"]["number"] for c in
             otio.adapters.read_from_file(str(cut)).find_clips()]
    assert names == [s.number for s in sorted(board.run.shots, key=lambda s: s.order)]


# The PDF: panels in the board's frame, durations and running time, notes.


async def test_a_2_39_pdf_has_panels_of_that_ratio(tmp_path):
    board = await framed_board(tmp_path, "2.39:1")
    assert (board.run.aspect, board.run.width, board.run.height) == ("2.39:1", 1024, 428)
    written = await export_run(board.run, "pdf", tmp_path / "wide.pdf",
                               image_path=board.image_path)
    drawn = [d for page in PdfReader(written).pages[1:] for d in images_drawn(page)]
    assert len(drawn) == len(board.run.shots)
    assert all(w / h == pytest.approx(2.39, rel=0.005) for w, h in drawn)


async def test_a_stale_image_of_another_shape_is_fitted_never_stretched(tmp_path):
    board = await framed_board(tmp_path, "16:9", size=(256, 144))
    board.run.aspect = "9:16"  # the frame changed; the images are still 16:9
    written = await export_run(board.run, "pdf", tmp_path / "b.pdf",
                               image_path=board.image_path)
    drawn = images_drawn(PdfReader(written).pages[1])
    assert drawn and all(w / h == pytest.approx(16 / 9, rel=0.01) for w, h in drawn)


@pytest.mark.parametrize("aspect", [2.39, 9 / 16])
@pytest.mark.parametrize(("size", "orientation", "columns"), [
    ("a4", "landscape", 3), ("letter", "portrait", 3), ("a4", "portrait", 1),
    ("letter", "landscape", 6)])
def test_wide_and_tall_panels_fit_every_page_with_a_note_line(aspect, size, orientation,
                                                             columns):
    layout = layout_for(size, orientation, columns, aspect, NOTE_LINES)
    w, _ = layout.page
    assert layout.rows >= 1 and layout.note_lines == NOTE_LINES
    x, top = layout.cell_origin(layout.per_page - 1)
    assert x + layout.cell_w <= w - MARGIN + 0.01
    assert top - layout.cell_h >= MARGIN + 16 - 0.01
    assert layout.image_w / layout.image_h == pytest.approx(aspect)
    assert layout.image_w <= layout.cell_w + 0.01


def test_a_9_16_panel_in_three_landscape_columns_is_a_tall_row_of_three():
    layout = layout_for("a4", "landscape", 3, 9 / 16)
    assert (layout.rows, layout.per_page) == (1, 3)
    assert layout.image_h > 400 and layout.image_w == pytest.approx(layout.image_h * 9 / 16)


async def test_the_pdf_shows_each_panels_time_the_running_time_and_notes(tmp_path):
    board = await framed_board(tmp_path, "16:9", size=(256, 144))
    shots = board.run.shots
    shots[1].duration_s = 4.5
    shots[2].note = "hold on the lamp; music swells"
    written = await export_run(board.run, "pdf", tmp_path / "b.pdf",
                               image_path=board.image_path)
    reader = PdfReader(written)
    title = " ".join(reader.pages[0].extract_text().split())
    assert "3 shots; running time 8.5 s; frame 16:9" in title
    panels = " ".join(reader.pages[1].extract_text().split())
    assert "2.0 s" in panels and "4.5 s" in panels
    assert "Note: hold on the lamp; music swells" in panels


# The data exports say the frame and the time.


async def test_zip_and_json_carry_aspect_durations_and_notes(tmp_path):
    board = await framed_board(tmp_path, "9:16", size=(144, 256), max_shots=2)
    board.run.shots[0].duration_s = 4.5
    board.run.shots[1].note = "a breath before the cut"
    written = await export_run(board.run, "zip", tmp_path / "b.zip", image_path=board.image_path)
    with zipfile.ZipFile(written) as archive:
        zipped = json.loads(archive.read("storyboard.json"))
    plain = json.loads((await export_run(board.run, "json", tmp_path / "b.json",
                                         image_path=board.image_path)).read_text("utf-8"))
    for doc in (zipped, plain):
        assert (doc["aspect"], doc["width"], doc["height"]) == ("9:16", 144, 256)
        assert doc["duration_s"] == 6.5
        assert [(s["duration_s"], s["seconds"], s["note"]) for s in doc["shots"]] == [
            (4.5, 4.5, ""), (None, 2.0, "a breath before the cut")]


def _distance(a: Image.Image, b: Image.Image) -> float:
    from PIL import ImageChops, ImageStat

    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3
