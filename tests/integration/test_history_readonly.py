"""Issue 14, items 4 and 6: on a data folder or database that cannot be written, the
commands that only read (``history``, ``show``, ``export``) work, and those that write
stop with "history is read-only: ..." (no traceback) and change nothing. The review saw
"unable to open database file" even for ``history``.

Root ignores file modes, so as root the CLI runs without the capabilities that let it
(``setpriv`` drops them from its bounding set); a check first proves that writing into
the folder is really refused.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.support import REPO, json_lines, one_run, storyreel

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")

DROP = "--bounding-set=-dac_override,-dac_read_search,-fowner,-linux_immutable"


def unprivileged() -> list[str]:
    """A prefix that runs a command without the power to ignore file modes."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores file modes, and without setpriv (util-linux) this test "
                    "cannot take that power away")
    return [setpriv, DROP]


def as_reader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*unprivileged(), sys.executable, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=180)


def cli(*args: str) -> subprocess.CompletedProcess:
    return as_reader("-m", "app", *args)


def snapshot(home: Path) -> dict[str, tuple[int, int, int]]:
    return {str(p.relative_to(home)): (p.lstat().st_mode, p.lstat().st_size,
                                       p.lstat().st_mtime_ns)
            for p in sorted(home.rglob("*"))}


def freeze(*paths: Path) -> None:
    """Folders 0500, files 0400: nothing may be written there."""
    for top in paths:
        for p in [top, *top.rglob("*")] if top.is_dir() else [top]:
            p.chmod(0o500 if p.is_dir() else 0o400)


def thaw(home: Path) -> None:
    for p in [home, *home.rglob("*")]:
        p.chmod(stat.S_IMODE(p.stat().st_mode) | 0o200)


def refuses_writes(folder: Path) -> str:
    probe = as_reader("-c", "import sys; open(sys.argv[1], 'w')", str(folder / "probe"))
    assert probe.returncode != 0 and "Permission denied" in probe.stderr, (
        "this test cannot deny writing here")
    return probe.stderr


@pytest.fixture
def a_finished_run(home, tmp_path, monkeypatch) -> dict:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # where a socket may go instead
    made = storyreel("run", "--text", "A keeper and a door.", "--json")
    assert made.returncode == 0, made.stderr
    return one_run(made)


def test_on_a_read_only_data_folder_reading_works_and_writing_is_refused(
        home, tmp_path, a_finished_run):
    run = a_finished_run
    data = Path(home)
    freeze(data)
    refuses_writes(data / "db")
    before = snapshot(data)
    try:
        listed = cli("history", "--json")
        shown = cli("show", run["run_id"], "--json")
        exported = cli("export", run["run_id"], "--format", "pdf",
                       "--out", str(tmp_path / "board.pdf"))
        new_run = cli("run", "--text", "Another idea.", "--json")
        deleted = cli("delete", run["run_id"], "--yes")
        after = snapshot(data)
    finally:
        thaw(data)

    assert listed.returncode == 0, listed.stderr
    [entry] = json_lines(listed.stdout)
    assert (entry["run_id"], entry["status"], entry["shots_done"]) == (
        run["run_id"], "completed", run["shot_count"])
    assert shown.returncode == 0, shown.stderr
    board = json.loads(shown.stdout)
    assert [s["status"] for s in board["shots"]] == ["done"] * run["shot_count"]
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "board.pdf").read_bytes().startswith(b"%PDF")

    for refused in (new_run, deleted):
        assert refused.returncode != 0
        assert "history is read-only" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert after == before  # nothing was written into the data folder
    assert (tmp_path / "runtime" / "storyreel").is_dir()  # the socket went there instead


def test_a_read_only_database_in_a_writable_folder_is_read_and_left_as_it_was(
        home, a_finished_run):
    run = a_finished_run
    db = Path(home) / "db"
    freeze(db / "history.db")
    before = sorted(p.name for p in db.iterdir())

    listed = cli("history", "--json")
    refused = cli("run", "--text", "Another idea.", "--json")
    left = sorted(p.name for p in db.iterdir())
    (db / "history.db").chmod(0o600)
    again = cli("run", "--text", "Another idea.", "--json")  # writable again: it works

    assert listed.returncode == 0, listed.stderr
    assert [e["run_id"] for e in json_lines(listed.stdout)] == [run["run_id"]]
    assert refused.returncode != 0 and "history is read-only" in refused.stderr
    assert left == before == ["history.db"]  # no -wal/-shm left in the way
    assert again.returncode == 0, again.stderr
    assert one_run(again)["status"] == "completed"
