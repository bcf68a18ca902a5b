"""The ZIP: images in story order, storyboard.json pointing at them, the screenplay."""

from __future__ import annotations

import json
import zipfile

from app.core.export import export_run
from app.core.models import Run
from tests.core.export.boards import make_board


async def test_images_in_story_order_then_the_document_and_the_screenplay(board, tmp_path):
    written = await export_run(board.run, "zip", tmp_path / "board.zip",
                               image_path=board.image_path)
    with zipfile.ZipFile(written) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        shots = board.run.shots
        images = [f"{n:03d}_{s.number}.png" for n, s in enumerate(shots, 1)]
        assert names == [*images, "storyboard.json", "screenplay.fountain"]
        for name, shot in zip(images, shots, strict=True):
            assert archive.read(name) == board.file_of(shot.shot_id).read_bytes()
            assert archive.getinfo(name).compress_type == zipfile.ZIP_STORED
        assert archive.read("screenplay.fountain").decode() == board.run.script.screenplay
        document = json.loads(archive.read("storyboard.json"))
    assert document["run_id"] == board.run.run_id
    assert [s["image_file"] for s in document["shots"]] == images
    assert [s["number"] for s in document["shots"]] == [s.number for s in shots]


async def test_a_shot_without_an_image_leaves_a_gap_and_a_null(tmp_path):
    board = await make_board(tmp_path, max_shots=3)
    board.run.shots[1].image = None
    written = await export_run(board.run, "zip", tmp_path / "b.zip", image_path=board.image_path)
    first, third = (f"00{n}_{board.run.shots[n - 1].number}.png" for n in (1, 3))
    with zipfile.ZipFile(written) as archive:
        assert archive.namelist() == [first, third, "storyboard.json", "screenplay.fountain"]
        document = json.loads(archive.read("storyboard.json"))
    assert [s["image_file"] for s in document["shots"]] == [first, None, third]


async def test_the_document_reads_back_as_the_same_run(board, tmp_path):
    written = await export_run(board.run, "zip", tmp_path / "b.zip", image_path=board.image_path)
    with zipfile.ZipFile(written) as archive:
        again = Run.model_validate(json.loads(archive.read("storyboard.json")))
    assert again.model_dump() == board.run.model_dump()
    assert [s.model_dump() for s in again.shots] == [s.model_dump() for s in board.run.shots]
