"""The edges, as a person meets them, with real processes: a full disk under the data
folder, and an mp4 export stopped by SIGTERM or SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.disks import tmpfs
from tests.integration.support import REPO, storyreel

IDEA = "A lighthouse keeper finds a message in a bottle and sails to find its writer."


def test_a_full_disk_stops_the_run_once_with_advice_and_resume_finishes_it(home):
    blobs = Path(home) / "blobs"
    with tmpfs(blobs, "64k"):
        first = storyreel("run", "--text", IDEA, "--json", "--max-shots", "12")
        assert first.returncode == 1
        assert "Traceback" not in first.stderr
        assert "internal error" not in first.stderr
        run = json.loads(first.stdout.splitlines()[-1])
        assert run["status"] == "failed"
        advice = (f"the disk holding {blobs} is full: free some space, then "
                  f"`storyreel resume {run['run_id']}`")
        assert advice in first.stderr
        # stopped once: no shot was retried, and no shot blames itself for the disk
        assert "retrying" not in first.stderr
        assert first.stderr.count("is full") == 1
        assert all(s["status"] in ("done", "cancelled") for s in run["shots"])
    # space freed (the tiny disk is gone): resume renders only what is missing
    again = storyreel("resume", run["run_id"], "--json")
    assert again.returncode == 0, again.stderr
    shown = json.loads(storyreel("show", run["run_id"], "--json").stdout)
    assert shown["status"] == "completed"
    assert shown["shots_done"] == shown["shot_count"] == len(run["shots"])


def test_a_read_only_blob_folder_is_refused_with_advice(home):
    blobs = Path(home) / "blobs"
    with tmpfs(blobs, "64k", read_only=True):
        result = storyreel("run", "--text", IDEA, "--max-shots", "3")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"the disk holding {blobs} is read-only" in result.stderr


# An mp4 export stopped half-way, as a person (SIGTERM from `kill`, a closed terminal)
# or the system (SIGKILL, the OOM killer) would stop it.

LONG_IDEA = ("A lighthouse keeper finds a message in a bottle and sails across the sea to "
             "find its writer, meeting storms, pirates and an old friend.")


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(entry.name), cmdline))
    return found


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _wait(condition, what: str, limit_s: float = 120.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def _start_export(run_id: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "export", run_id, "--format", "mp4", "--out", str(out),
         "--seconds", "60"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=os.environ.copy())


@pytest.fixture
def long_run(home) -> str:
    made = storyreel("run", "--text", LONG_IDEA, "--json", "--max-shots", "9")
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout.splitlines()[-1])["run_id"]


def _encoder_of(export: subprocess.Popen) -> int:
    # the encoder, not the `ffmpeg -version` that imageio-ffmpeg runs to find it
    found = _wait(lambda: [pid for pid, cmd in _children(export.pid)
                           if "ffmpeg" in cmd and " concat " in cmd], "ffmpeg to start encoding")
    return found[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_mid_export_leaves_no_part_no_frames_and_no_ffmpeg(home, long_run, tmp_path):
    out = tmp_path / "out" / "animatic.mp4"
    export = _start_export(long_run, out)
    try:
        encoder = _encoder_of(export)
        frames = list((Path(home) / "tmp").glob("export-*/frame_*.png"))
        assert frames, "the frames are drawn inside the data folder"
        export.send_signal(signal.SIGTERM)
        _, err = export.communicate(timeout=120)
    finally:
        export.kill()
    assert export.returncode == 1
    assert "export cancelled; nothing was written" in err.decode()
    assert "Traceback" not in err.decode()
    assert sorted(p.name for p in out.parent.iterdir()) == []  # no .part, no mp4
    assert list((Path(home) / "tmp").iterdir()) == []  # no frames
    assert not _alive(encoder)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sigkill_mid_export_takes_ffmpeg_along_and_the_next_export_sweeps(home, long_run,
                                                                           tmp_path):
    out = tmp_path / "out" / "animatic.mp4"
    export = _start_export(long_run, out)
    try:
        encoder = _encoder_of(export)
        export.kill()
        export.wait(timeout=60)
    finally:
        export.kill()
    _wait(lambda: not _alive(encoder), "ffmpeg to die with the app", limit_s=30)
    left = list((Path(home) / "tmp").glob("export-*"))
    assert left  # what a SIGKILL cannot clean up...
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".part")]
    # ...the next export sweeps (it is refused here: the target is taken, nothing to encode)
    out.write_bytes(b"taken")
    again = storyreel("export", long_run, "--format", "json", "--out", str(tmp_path / "x.json"))
    assert again.returncode == 0, again.stderr
    short = storyreel("export", long_run, "--format", "mp4", "--out", str(out), "--force",
                      "--seconds", "0.1")
    assert short.returncode == 0, short.stderr
    assert list((Path(home) / "tmp").iterdir()) == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["animatic.mp4"]


def test_an_export_to_a_full_disk_says_so_and_leaves_nothing(home, tmp_path):
    made = storyreel("run", "--text", IDEA, "--json", "--max-shots", "4")
    assert made.returncode == 0, made.stderr
    run_id = json.loads(made.stdout.splitlines()[-1])["run_id"]
    with tmpfs(tmp_path / "usb", "64k") as usb:
        result = storyreel("export", run_id, "--format", "zip", "--out", str(usb / "board.zip"))
        left = sorted(p.name for p in usb.iterdir())
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"the disk holding {usb} is full: free some space" in result.stderr
    assert left == []
