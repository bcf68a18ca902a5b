"""``storyreel shot add|duplicate|delete|move|set`` and ``edit --aspect``, as a person and a
script use them: a real process each time, on a draft run."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO
from tests.test_cli import json_lines, storyreel

IDEA = "A lighthouse keeper and her grandson save a fishing boat in a winter storm."


def draft_run(max_shots: int = 4) -> dict:
    result = storyreel("run", "--text", IDEA, "--json", "--seed", "4", "--scenes", "1-2",
                       "--max-shots", str(max_shots))
    assert result.returncode == 0, result.stderr
    [run] = json_lines(result.stdout)
    return run


def shown(run_id: str) -> dict:
    result = storyreel("show", run_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def board(run: dict) -> list[tuple[str, str]]:
    return [(s["shot_id"], s["number"]) for s in run["shots"]]


def test_an_artist_shapes_a_board_from_the_command_line(home):
    run = draft_run()
    rid = run["run_id"]
    assert board(run) == [("s01-01", "1A"), ("s01-02", "1B"), ("s02-01", "2A"),
                          ("s02-02", "2B")]
    assert run["aspect"] == "16:9" and run["duration_s"] == 8.0

    added = storyreel("shot", "add", rid, "--after", "s01-01", "--text",
                      "A wave breaks over the bow", "--framing", "cu", "--camera", "handheld",
                      "--dialogue", "Hold on! Hold on to the rail, Theo!", "--duration", "3")
    assert added.returncode == 0, added.stderr
    new = added.stdout.strip()  # the new shot's id, alone
    assert new and new.isalnum() and "\n" not in new
    assert "now stale: 1B" in added.stderr

    moved = storyreel("shot", "move", rid, "s02-02", "--scene", "1")
    assert moved.returncode == 0, moved.stderr
    changed = storyreel("shot", "set", rid, "s01-02", "--note", "hold the silence",
                        "--dialogue", "It's gone.")
    assert changed.returncode == 0, changed.stderr
    assert "stale" not in changed.stderr  # neither a note nor dialogue changes the picture

    refused = storyreel("shot", "delete", rid, "s02-01")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "storyreel: shot 2A (s02-01) has 1 image: add --yes to take it off the board (its "
        "images stay in storage until the run is deleted)")
    deleted = storyreel("shot", "delete", rid, "s02-01", "--yes")
    assert deleted.returncode == 0, deleted.stderr

    after = shown(rid)
    assert board(after) == [("s02-02", "1A"), ("s01-01", "1B"), (new, "1C"),
                            ("s01-02", "1D")]
    shots = {s["shot_id"]: s for s in after["shots"]}
    assert shots[new]["duration_s"] == shots[new]["seconds"] == 3.0
    assert shots[new]["image"] is None
    assert shots["s01-02"]["note"] == "hold the silence"
    assert shots["s01-01"]["duration_s"] is None  # not set: from its (missing) dialogue
    assert shots["s01-01"]["seconds"] == 2.0
    assert shots["s02-02"]["stale"] == "moved from scene 2 to scene 1"
    assert after["duration_s"] == 9.0 and after["shot_count"] == 4
    assert {s["scene"] for s in after["shots"]} == {1}

    framed = storyreel("edit", rid, "--aspect", "9:16")
    assert framed.returncode == 0, framed.stderr
    assert framed.stdout.strip() == "frame now 9:16 (576x1024)"
    drawn = storyreel("regenerate", rid, "--stale", "--json")
    assert drawn.returncode == 0, drawn.stderr
    [final] = json_lines(drawn.stdout)
    assert board(final) == board(after) and final["aspect"] == "9:16"
    assert all(s["stale"] is None and s["image"]["width"] == 576 for s in final["shots"])


BAD = [
    (["shot", "add", "{rid}", "--scene", "7", "--text", "x"], "this run has no scene 7"),
    (["shot", "add", "{rid}", "--scene", "3", "--text", "x"],
     "scene 3 is not storyboarded yet: storyboard it first (storyreel resume {rid} --scenes 3)"),
    (["shot", "add", "{rid}", "--after", "s09-09", "--text", "x"], "has no shot 's09-09'"),
    (["shot", "add", "{rid}", "--scene", "1", "--text", " "], "description can't be empty"),
    (["shot", "add", "{rid}", "--scene", "1", "--text", "x", "--framing", "huge"],
     "unknown framing 'huge'"),
    (["shot", "set", "{rid}", "s01-01", "--duration", "0"], "a duration must be 0.1 to 600"),
    (["shot", "set", "{rid}", "s01-01", "--duration", "soon"], "a duration is a number"),
    (["shot", "set", "{rid}", "s01-01", "--characters", "Nobody"], "no character named"),
    (["shot", "set", "{rid}", "s01-01"], "nothing to change"),
    (["shot", "move", "{rid}", "s01-01", "--after", "s01-01"], "can't go after itself"),
    (["shot", "move", "{rid}", "s01-01"], "one of the arguments --after --scene is required"),
    (["shot", "delete", "{rid}", "nope", "--yes"], "has no shot 'nope'"),
    (["shot", "delete", "not-a-run", "s01-01", "--yes"], "not-a-run"),
    (["edit", "{rid}", "--aspect", "3:2"], "aspect ratio '3:2' is not one of"),
    (["edit", "{rid}", "--aspect", "1:1", "--scene", "1"], "the frame (--aspect) on its own"),
]


def test_bad_board_edits_exit_2_with_one_line_and_change_nothing(home):
    rid = draft_run(max_shots=2)["run_id"]
    before = shown(rid)
    for args, message in BAD:
        result = storyreel(*[a.format(rid=rid) for a in args])
        assert result.returncode == 2, (args, result.stderr)
        said = [line for line in result.stderr.splitlines()  # (argparse prints its usage)
                if line.strip() and not line.startswith(("usage:", " "))]
        assert len(said) == 1 and message.format(rid=rid) in said[0], (args, said)
    assert shown(rid) == before


def test_a_duplicate_follows_its_shot_with_its_plan_and_a_seed_of_its_own(home):
    run = draft_run()
    rid = run["run_id"]
    source = run["shots"][0]
    assert storyreel("shot", "set", rid, source["shot_id"], "--duration", "4.5",
                     "--note", "push in slowly").returncode == 0

    copied = storyreel("shot", "duplicate", rid, source["shot_id"])
    assert copied.returncode == 0, copied.stderr
    new = copied.stdout.strip()
    assert new and new != source["shot_id"] and "\n" not in new
    assert f"copied {source['shot_id']} as shot 1B ({new})" in copied.stderr

    after = shown(rid)
    assert board(after) == [("s01-01", "1A"), (new, "1B"), ("s01-02", "1C"),
                            ("s02-01", "2A"), ("s02-02", "2B")]
    copy = after["shots"][1]
    for field in ("description", "shot_type", "camera", "dialogue", "characters", "prompt"):
        assert copy[field] == source[field], field
    assert (copy["duration_s"], copy["note"]) == (4.5, "push in slowly")
    assert copy["seed"] != source["seed"]  # a variation, not the same picture again
    assert copy["image"] is None and copy["stale"] == "new shot, not drawn yet"

    missing = storyreel("shot", "duplicate", rid, "s09-09")
    assert missing.returncode == 2
    assert "s09-09" in missing.stderr and shown(rid)["shot_count"] == 5


def test_show_into_a_pipe_closed_early_ends_quietly(home):
    """`storyreel show RUN | head -1`: the reader goes away; no traceback, and the exit
    status of a process SIGPIPE ended (which a shell keeps quiet about)."""
    rid = draft_run()["run_id"]
    show = subprocess.Popen([sys.executable, "-m", "app", "show", rid], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    show.stdout.close()  # before it has written a line
    _, err = show.communicate(timeout=120)
    assert show.returncode == 141, err
    assert b"Traceback" not in err and b"Broken pipe" not in err
