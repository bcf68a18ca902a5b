"""The command line end to end, as people and scripts use it: a real process each time."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import REPO, SAMPLES

RUN_KEYS = {"run_id", "status", "title", "scene_count", "shot_count", "shots_done",
            "shots_failed", "gpu_seconds", "wall_seconds", "shots"}
SHOT_KEYS = {"shot_id", "scene", "index", "status", "image_path"}
HISTORY_KEYS = {"run_id", "title", "status", "created_at", "scene_count", "shot_count",
                "shots_done", "shots_failed"}


def storyreel(*args: str, env: dict | None = None, timeout: float = 120,
              stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=REPO, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})}, input=stdin,
    )


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize("sample", ["lighthouse.txt", "heist.md", "first_contact.fountain"])
def test_run_json_on_every_sample_finishes_offline_with_images_on_disk(sample, home):
    result = storyreel("run", str(SAMPLES / sample), "--json", "--seed", "3")
    assert result.returncode == 0, result.stderr
    [run] = json_lines(result.stdout)
    assert RUN_KEYS <= run.keys()
    assert run["status"] == "completed"
    assert run["scene_count"] >= 3
    assert run["shot_count"] == run["shots_done"] == len(run["shots"]) > 0
    assert run["shots_failed"] == 0
    for shot in run["shots"]:
        assert SHOT_KEYS <= shot.keys()
        path = Path(shot["image_path"])
        assert path.is_file() and path.is_relative_to(home)
        with Image.open(path) as image:
            assert image.format == "PNG"
            image.verify()
    # progress for a person on stderr: stages and shot counts
    assert "writing the script" in result.stderr
    assert f"rendering shots {run['shot_count']}/{run['shot_count']}" in result.stderr


def test_history_lists_runs_newest_first_and_show_gives_the_run(home):
    first = json_lines(storyreel("run", str(SAMPLES / "lighthouse.txt"), "--json").stdout)[0]
    second = json_lines(storyreel("run", str(SAMPLES / "heist.md"), "--json").stdout)[0]

    result = storyreel("history", "--json")
    assert result.returncode == 0, result.stderr
    listed = json_lines(result.stdout)
    assert [r["run_id"] for r in listed] == [second["run_id"], first["run_id"]]
    assert all(HISTORY_KEYS <= r.keys() for r in listed)
    assert listed[1]["title"] == first["title"]
    assert listed[1]["shots_done"] == first["shot_count"]

    found = json_lines(storyreel("history", "--json", "--search", "SAFECRACKER alps").stdout)
    assert [r["run_id"] for r in found] == [second["run_id"]]

    shown = storyreel("show", first["run_id"], "--json")
    assert shown.returncode == 0
    [run] = json_lines(shown.stdout)
    assert RUN_KEYS <= run.keys()
    assert [s["image_path"] for s in run["shots"]] == [s["image_path"] for s in first["shots"]]

    human = storyreel("history")
    assert first["title"] in human.stdout and "completed" in human.stdout


def test_typed_and_batch_ideas_make_one_run_each(tmp_path):
    batch = tmp_path / "two.json"
    batch.write_text(json.dumps(["A fox steals the moon.", "A clock runs backwards."]))
    result = storyreel("run", str(batch), "--text", "A kite flies to sea.", "--json",
                       "--max-shots", "4")
    assert result.returncode == 0, result.stderr
    runs = json_lines(result.stdout)
    assert len(runs) == 3
    assert all(r["shot_count"] == 4 for r in runs)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"  \n", "storyreel: empty.txt is empty: write a sentence or two about "
                               "the story"),
        ("junk.md", bytes(range(256)), "storyreel: junk.md looks like binary content, not text"),
        ("picture.png", b"\x89PNG", "storyreel: picture.png: unsupported file type '.png'; "
                                    "use .txt, .md, .fountain, .fdx or a .json batch"),
    ],
)
def test_a_bad_idea_file_exits_2_with_one_line_and_writes_nothing(tmp_path, home, name,
                                                                  content, reason):
    bad = tmp_path / name
    bad.write_bytes(content)
    good = SAMPLES / "lighthouse.txt"
    before = files_under(Path(home))
    result = storyreel("run", str(good), str(bad), "--json")
    assert result.returncode == 2
    assert result.stderr.strip() == reason
    assert result.stdout == ""
    assert files_under(Path(home)) == before  # not even the good idea was started


def test_a_missing_file_and_a_folder_are_refused(tmp_path):
    assert storyreel("run", str(tmp_path / "nope.txt")).stderr.strip() == (
        "storyreel: nope.txt: no such file")
    result = storyreel("run", str(tmp_path))
    assert result.returncode == 2
    assert "is a folder, not an idea file" in result.stderr


def test_bad_configuration_exits_2_naming_the_variable():
    result = storyreel("run", str(SAMPLES / "lighthouse.txt"),
                       env={"STORYREEL_CONCURRENCY": "lots"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "storyreel: STORYREEL_CONCURRENCY must be a whole number, got 'lots'")


def test_bad_arguments_exit_2():
    assert storyreel("run", str(SAMPLES / "lighthouse.txt"), "--max-shots", "0").returncode == 2
    assert storyreel("run").returncode == 2
    assert storyreel("show", "no-such-run").stderr.strip() == (
        "storyreel: no run with id 'no-such-run' in history")
    assert storyreel("show", "../../etc/passwd").returncode == 2


def test_ctrl_c_cancels_the_run_cleanly_and_records_it(tmp_path):
    long_idea = tmp_path / "long.txt"
    long_idea.write_text("\n\n".join(
        f"In scene {n} Mara walks along the harbour with a lantern. She watches the boats. "
        f"Theo follows her through the market." for n in range(12)))
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "run", str(long_idea), "--json", "--concurrency", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            if re.search(r"rendering shots [1-9]\d*/", line):  # some shots are on disk
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1, err
    [run] = json_lines(out)
    assert run["status"] == "cancelled"
    assert 0 < run["shots_done"] < run["shot_count"]
    assert {s["status"] for s in run["shots"]} <= {"done", "cancelled"}
    [listed] = json_lines(storyreel("history", "--json").stdout)
    assert listed["status"] == "cancelled"

    resumed = storyreel("resume", run["run_id"], "--json")
    assert resumed.returncode == 0, resumed.stderr
    [finished] = json_lines(resumed.stdout)
    assert finished["status"] == "completed"
    assert finished["shots_done"] == finished["shot_count"]
    kept = {s["shot_id"]: s["image_path"] for s in run["shots"] if s["status"] == "done"}
    assert {s["shot_id"]: s["image_path"] for s in finished["shots"]
            if s["shot_id"] in kept} == kept  # done shots were not drawn again


def test_retry_export_and_doctor(tmp_path):
    [run] = json_lines(storyreel("run", str(SAMPLES / "first_contact.fountain"), "--json",
                                 "--max-shots", "3").stdout)
    shot_id = run["shots"][1]["shot_id"]
    retried = storyreel("retry", run["run_id"], "--shot", shot_id, "--json")
    assert retried.returncode == 0, retried.stderr
    [after] = json_lines(retried.stdout)
    again = next(s for s in after["shots"] if s["shot_id"] == shot_id)
    assert again["attempts"] == 2 and again["image_path"].endswith(f"/{shot_id}/2.png")
    assert storyreel("retry", run["run_id"], "--shot", "s99-99").returncode == 2

    fountain = tmp_path / "out" / "script.fountain"
    assert storyreel("export", run["run_id"], "--format", "fountain", "--out",
                     str(fountain)).returncode == 0
    assert fountain.read_text().startswith("Title: First Contact")
    exported = tmp_path / "run.json"
    assert storyreel("export", run["run_id"], "--format", "json", "--out",
                     str(exported)).returncode == 0
    assert json.loads(exported.read_text())["run_id"] == run["run_id"]
    refused = storyreel("export", run["run_id"], "--format", "docx", "--out", str(exported))
    assert refused.returncode == 2 and "unknown export format 'docx'" in refused.stderr

    doctor = storyreel("doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    [report] = json_lines(doctor.stdout)
    assert report["ok"] is True
    assert [(p["name"], p["mode"], p["ok"]) for p in report["parts"]] == [
        ("writer", "embedded", True), ("renderer", "embedded", True),
        ("storage", "embedded", True), ("history", "embedded", True)]


def test_version_and_an_idea_from_stdin():
    version = storyreel("--version")
    assert version.returncode == 0 and version.stdout.startswith("storyreel ")
    result = storyreel("run", "-", "--json", "--max-shots", "3",
                       stdin="A girl teaches a robot to whistle.")
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout)[0]["shot_count"] == 3


def test_delete_asks_then_removes_the_run_and_its_images(home):
    [run] = json_lines(storyreel("run", "--text", "A moth loves a lamp.", "--json",
                                 "--max-shots", "3").stdout)
    images = [Path(s["image_path"]) for s in run["shots"]]
    assert all(p.is_file() for p in images)

    refused = storyreel("delete", run["run_id"])  # no terminal to ask on, no --yes
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    assert all(p.is_file() for p in images)
    assert storyreel("show", run["run_id"]).returncode == 0

    deleted = storyreel("delete", run["run_id"], "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert not any(p.exists() for p in images)
    assert storyreel("show", run["run_id"]).returncode == 2
    assert json_lines(storyreel("history", "--json").stdout) == []


def test_orphans_are_found_and_deleted_after_asking(home):
    [kept] = json_lines(storyreel("run", "--text", "A kept run.", "--json",
                                  "--max-shots", "2").stdout)
    [gone] = json_lines(storyreel("run", "--text", "A forgotten run.", "--json",
                                  "--max-shots", "2").stdout)
    assert storyreel("delete", gone["run_id"], "--yes", "--keep-images").returncode == 0

    listed = storyreel("orphans")
    assert listed.returncode == 0
    assert listed.stdout.split() == [gone["run_id"], "2", "objects"]
    assert storyreel("orphans", "--delete").returncode == 2  # asks, and cannot here
    assert storyreel("orphans", "--delete", "--yes").returncode == 0
    assert not any(Path(s["image_path"]).exists() for s in gone["shots"])
    assert all(Path(s["image_path"]).exists() for s in kept["shots"])
    assert storyreel("orphans").stdout == ""


def test_self_test_opens_the_window_and_makes_a_storyboard_through_it():
    env = {"QT_QPA_PLATFORM": "offscreen"}
    env.pop("DISPLAY", None)
    result = storyreel("--self-test", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "self-test: ok" in result.stdout + result.stderr


def test_the_front_knows_every_command_and_loads_no_engine():
    from app.cli import COMMAND_NAMES
    from app.commands import COMMANDS

    assert set(COMMAND_NAMES) == set(COMMANDS)
    probe = ("import sys, app.cli; heavy = [m for m in ('pydantic', 'pymongo', 'aiobotocore', "
             "'reportlab', 'PySide6') if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_without_a_display_the_window_says_what_to_do_instead_of_aborting():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "app"], cwd=REPO, capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "no display to open the window on" in result.stderr
    assert "storyreel run IDEA" in result.stderr


def test_edit_a_look_then_regenerate_only_the_stale_shots_then_pick_a_version(home):
    result = storyreel("run", str(SAMPLES / "lighthouse.txt"), "--json", "--seed", "9")
    [run] = json_lines(result.stdout)
    rid = run["run_id"]
    theo = {s["shot_id"] for s in run["shots"] if "THEO" in s["prompt"]}
    assert theo and theo != {s["shot_id"] for s in run["shots"]}

    edited = storyreel("edit", rid, "--character", "theo", "--look",
                       "A boy of sixteen, tall, in a blue parka and a red scarf.")
    assert edited.returncode == 0, edited.stderr
    assert f"{len(theo)} shots now stale" in edited.stdout
    assert f"storyreel regenerate {rid} --stale" in edited.stdout

    again = storyreel("regenerate", rid, "--stale", "--json")
    assert again.returncode == 0, again.stderr
    [after] = json_lines(again.stdout)
    redrawn = {s["shot_id"] for s in after["shots"] if s["versions"]}
    assert redrawn == theo  # only that character's shots were rendered again
    for shot in after["shots"]:
        before = next(s for s in run["shots"] if s["shot_id"] == shot["shot_id"])
        assert shot["seed"] == before["seed"] and shot["stale"] is None
        assert shot["model"] and all(v["model"] == shot["model"] for v in shot["versions"])
        assert ("blue parka" in shot["prompt"]) == (shot["shot_id"] in theo)
    assert storyreel("regenerate", rid, "--stale").stdout.startswith("no shot is stale")

    sid = sorted(theo)[0]
    picked = storyreel("pick", rid, sid, "1")
    assert picked.returncode == 0, picked.stderr
    shown = json.loads(storyreel("show", rid, "--json").stdout)
    shot = next(s for s in shown["shots"] if s["shot_id"] == sid)
    assert shot["image"]["key"].endswith(f"/{sid}/1.png") and "blue parka" not in shot["prompt"]
    assert [v["attempt"] for v in shot["versions"]] == [2]

    found = json_lines(storyreel("history", "--search", "parka", "--json").stdout)
    assert [r["run_id"] for r in found] == [rid]  # history searches the prompts' words


@pytest.mark.parametrize(("args", "message"), [
    (["--character", "Nobody", "--look", "tall"], "no character named 'Nobody'"),
    (["--character", "THEO"], "--character and --look go together"),
    (["--scene", "99", "--summary", "x"], "no scene 99"),
    ([], "edit either a character"),
])
def test_a_bad_edit_exits_2_with_the_reason_and_changes_nothing(home, args, message):
    [run] = json_lines(storyreel("run", str(SAMPLES / "heist.md"), "--json").stdout)
    before = storyreel("show", run["run_id"], "--json").stdout
    result = storyreel("edit", run["run_id"], *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert storyreel("show", run["run_id"], "--json").stdout == before


def test_run_estimate_says_what_it_would_cost_and_starts_nothing(home):
    offline = storyreel("run", "--estimate", str(SAMPLES / "heist.md"))
    assert offline.returncode == 0, offline.stderr
    assert "runs offline" in offline.stdout and "nothing to pay" in offline.stdout

    env = {"RUNPOD_API_KEY": "rp-secret-key", "RUNPOD_SHOT_ENDPOINT": "shots1",
           "STORYREEL_PRICE_PER_GPU_SECOND": "0.001", "R2_ENDPOINT_URL": "http://127.0.0.1:9",
           "R2_ACCESS_KEY_ID": "id", "R2_SECRET_ACCESS_KEY": "r2-secret", "R2_BUCKET": "shots"}
    cloud = storyreel("run", "--estimate", "--json", "--max-shots", "10",
                      str(SAMPLES / "heist.md"), env=env)
    assert cloud.returncode == 0, cloud.stderr
    [est] = json_lines(cloud.stdout)
    assert (est["jobs"], est["shots"], est["writer_jobs"]) == (10, 10, 0)
    assert est["cost_usd"] == pytest.approx(est["gpu_seconds"] * 0.001)
    assert "secret" not in cloud.stdout + cloud.stderr
    assert json_lines(storyreel("history", "--json").stdout) == []  # nothing was started

    bad = storyreel("run", "--estimate", str(SAMPLES / "heist.md"),
                    env={**env, "STORYREEL_PRICE_PER_GPU_SECOND": "cheap"})
    assert bad.returncode == 2 and "STORYREEL_PRICE_PER_GPU_SECOND" in bad.stderr


def test_a_run_is_reproducible_from_its_seed(home):
    def board(seed: str) -> list[tuple[str, str, int, bytes]]:
        result = storyreel("run", str(SAMPLES / "heist.md"), "--json", "--seed", seed)
        assert result.returncode == 0, result.stderr
        [run] = json_lines(result.stdout)
        out = []
        for shot in run["shots"]:
            with Image.open(shot["image_path"]) as image:
                out.append((shot["shot_id"], shot["prompt"], shot["seed"], image.tobytes()))
        return out

    first, second, other = board("21"), board("21"), board("22")
    assert first == second  # same prompts, same seeds, the same pixels
    assert [s[2] for s in first] != [s[2] for s in other]
