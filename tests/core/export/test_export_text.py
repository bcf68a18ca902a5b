"""Fountain and JSON exports."""

from __future__ import annotations

import json
from pathlib import Path

from app.core.export import export_run
from app.core.export.document import FORMAT


async def test_fountain_is_the_screenplay_as_written(board, tmp_path):
    written = await export_run(board.run, "fountain", tmp_path / "s.fountain",
                               image_path=board.image_path)
    screenplay = board.run.script.screenplay
    assert screenplay.endswith("\n")
    assert written.read_bytes() == screenplay.encode("utf-8")
    assert written.read_text().startswith("Title: Mara and the Lamp\n")


async def test_a_screenplay_without_a_final_newline_gets_one(board, tmp_path):
    board.run.script.screenplay = "Title: Ω\n\nINT. CAFÉ – NIGHT\n\nMara waits."
    written = await export_run(board.run, "fountain", tmp_path / "s.fountain",
                               image_path=board.image_path)
    assert written.read_text(encoding="utf-8") == board.run.script.screenplay + "\n"


async def test_json_holds_the_run_and_its_shots_with_their_image_files(board, tmp_path):
    written = await export_run(board.run, "json", tmp_path / "run.json",
                               image_path=board.image_path)
    document = json.loads(written.read_text(encoding="utf-8"))
    assert document["format"] == FORMAT and document["format_version"] == 1
    assert document["run_id"] == board.run.run_id and document["title"] == board.run.title
    assert document["script"]["screenplay"] == board.run.script.screenplay
    assert len(document["scenes"]) == 4
    shots = document["shots"]
    assert [(s["scene"], s["index"]) for s in shots] == sorted((s.scene, s.index)
                                                              for s in board.run.shots)
    for shot in shots:
        assert Path(shot["image_file"]) == board.file_of(shot["shot_id"])
        assert shot["prompt"] and shot["seed"] and shot["scene_heading"]


async def test_shots_come_out_in_story_order_whatever_order_they_are_held_in(board, tmp_path):
    board.run.shots.reverse()
    written = await export_run(board.run, "json", tmp_path / "run.json",
                               image_path=board.image_path)
    numbers = [s["number"] for s in json.loads(written.read_text())["shots"]]
    assert numbers[:4] == ["1A", "1B", "1C", "2A"]
