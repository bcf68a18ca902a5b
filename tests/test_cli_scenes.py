"""``run --scenes`` and ``resume RUN_ID --scenes`` end to end, and what a cap leaves out
said before the run starts: a real process each time, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import json_lines, storyreel


def script(tmp_path: Path, n: int) -> Path:
    lines = ["Title: Many Nights", ""]
    for i in range(1, n + 1):
        lines += [f"INT. ROOM {i} - NIGHT", "", f"MARA opens door {i} and finds a lamp.", "",
                  "MARA", "Someone was here.", ""]
    path = tmp_path / "many.fountain"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_run_scenes_storyboards_those_and_resume_draws_more_into_the_same_run(tmp_path):
    path = script(tmp_path, 30)
    result = storyreel("run", str(path), "--scenes", "2-3,7", "--json", "--seed", "4")
    assert result.returncode == 0, result.stderr
    [run] = json_lines(result.stdout)
    assert (run["scene_count"], run["scenes_total"], run["scenes_storyboarded"]) == (30, 30, 3)
    assert sorted({s["scene"] for s in run["shots"]}) == [2, 3, 7]
    assert run["scenes_not_storyboarded"] == [n for n in range(1, 31) if n not in (2, 3, 7)]
    assert f"storyreel resume {run['run_id']} --scenes" in result.stderr
    before = {s["shot_id"]: s for s in run["shots"]}

    more = storyreel("resume", run["run_id"], "--scenes", "3-5", "--json")
    assert more.returncode == 0, more.stderr
    assert "scene 3 already has shots, kept as they are" in more.stderr
    [after] = json_lines(more.stdout)
    assert after["run_id"] == run["run_id"] and after["status"] == "completed"
    assert sorted({s["scene"] for s in after["shots"]}) == [2, 3, 4, 5, 7]
    for shot in after["shots"]:
        if shot["shot_id"] in before:  # drawn once only: same image, same attempt
            assert shot["image"] == before[shot["shot_id"]]["image"]
            assert shot["attempts"] == before[shot["shot_id"]]["attempts"] == 1
        assert Path(shot["image_path"]).is_file()
    assert after["shots_done"] == after["shot_count"] == len(after["shots"])
    assert 4 not in after["scenes_not_storyboarded"]

    [shown] = json_lines(storyreel("show", run["run_id"], "--json").stdout)
    assert [s["index"] for s in shown["scenes"]] == list(range(1, 31))  # every scene listed
    text = storyreel("show", run["run_id"]).stdout
    assert f"not storyboarded yet: storyreel resume {run['run_id']} --scenes 6" in text
    assert "--scenes 4\n" not in text  # drawn now


@pytest.mark.parametrize(("args", "says"), [
    (["--scenes", "1-3,40"], "storyreel: --scenes: this script has 30 scenes; there is no "
                             "scene 40"),
    (["--scenes", "4-2"], "the range '4-2' runs backwards"),
    (["--scenes", "one"], "'one' is not a scene number"),
])
def test_a_bad_scene_choice_exits_2_with_one_line_and_starts_nothing(tmp_path, home, args,
                                                                     says):
    result = storyreel("run", str(script(tmp_path, 30)), *args)
    assert result.returncode == 2
    assert says in result.stderr
    assert "writing the script" not in result.stderr
    assert storyreel("history", "--json").stdout.strip() == ""


def test_resume_scenes_needs_the_run_and_checks_its_scene_count(tmp_path):
    assert "--scenes needs the run" in storyreel("resume", "--scenes", "2").stderr
    [run] = json_lines(storyreel("run", str(script(tmp_path, 5)), "--scenes", "1",
                                 "--json").stdout)
    result = storyreel("resume", run["run_id"], "--scenes", "6")
    assert result.returncode == 2
    assert "this script has 5 scenes; there is no scene 6" in result.stderr


def test_the_cap_is_said_before_the_run_starts_and_the_estimate_covers_the_script(tmp_path):
    path = script(tmp_path, 30)
    estimate = storyreel("run", str(path), "--max-shots", "10", "--estimate", "--json")
    assert estimate.returncode == 0, estimate.stderr
    [est] = json_lines(estimate.stdout)
    assert est["script_scenes"] == 30 and est["script_shots"] > 30 * 2
    assert est["shots"] == 10
    assert est["scenes_notice"].startswith(
        f"this script has 30 scenes, about {est['script_shots']} shots; the cap of 10 "
        "shots storyboards scenes 1–10; use --scenes to choose")
    assert storyreel("history", "--json").stdout.strip() == ""  # nothing started

    result = storyreel("run", str(path), "--max-shots", "10")
    assert result.returncode == 0, result.stderr
    said = result.stderr.index("the cap of 10 shots storyboards scenes 1–10")
    assert said < result.stderr.index("writing the script")  # before anything starts


def test_a_cloud_estimate_prices_the_whole_script_beside_what_will_be_drawn(tmp_path):
    env = {"RUNPOD_API_KEY": "rp-secret-key", "RUNPOD_SHOT_ENDPOINT": "shots1",
           "STORYREEL_PRICE_PER_GPU_SECOND": "0.001", "R2_ENDPOINT_URL": "http://127.0.0.1:9",
           "R2_ACCESS_KEY_ID": "id", "R2_SECRET_ACCESS_KEY": "r2-secret", "R2_BUCKET": "shots"}
    path = script(tmp_path, 30)
    [est] = json_lines(storyreel("run", str(path), "--estimate", "--json", "--scenes", "1-4",
                                 env=env).stdout)
    drawn = est["shots"]
    assert est["shot_jobs"] == drawn < est["script_shots"]
    assert est["script_gpu_seconds"] == pytest.approx(est["script_shots"] * 4.0)
    assert est["scenes_notice"] is None  # no cap: the four scenes are drawn whole
    text = storyreel("run", str(path), "--estimate", "--max-shots", "8", env=env)
    assert text.returncode == 0, text.stderr
    assert "8 shots (the scenes to storyboard)" in text.stdout
    assert "the whole script (30 scenes, about" in text.stdout
    assert "the cap of 8 shots storyboards scenes 1–8" in text.stderr
    assert "secret" not in text.stdout + text.stderr
    [budget] = json_lines(storyreel("run", str(path), "--estimate", "--json",
                                    "--budget-gpu-seconds", "20", env=env).stdout)
    assert budget["scenes_notice"].startswith(
        f"this script has 30 scenes, about {budget['script_shots']} shots; the budget of 20 "
        "GPU seconds (about 5 shots at 4 s) storyboards scenes 1–")
