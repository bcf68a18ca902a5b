"""Issue 14, item 4: history that cannot be written is never a silent success.

A MongoDB that goes away mid-run (and stays away) leaves the run's last changes in a
journal in the data folder; the command ends with exit 1 and names it; the next process
on that database writes them, so ``resume`` finds nothing to render again (and on RunPod
pays for nothing twice). A run on RunPod does not start without a writable history, and
a draft run on a corrupt database ends non-zero with the reason.

The MongoDB here is an nx-27017 server of the test's own (not the app's embedded one),
so nothing restarts it behind the test's back.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.support import (
    held_shot_jobs,
    hold_shot_jobs_after,
    json_lines,
    one_run,
    reaped,
    spawn,
    storyreel,
    wait_for,
)

NX = Path(sys.executable).parent / "nx-27017"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


class MongoServer:
    """nx-27017 on one port and one database file, stopped and started by the test."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.port = folder, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(NX), "--host", "127.0.0.1", "-p", str(self.port),
             "--db", str(self.folder / "history.db"), "--pid-file", str(self.folder / "pid"),
             "--log-file", str(self.folder / "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: answers(self.port), "the MongoDB server to listen", limit_s=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None
        assert not answers(self.port)


@pytest.fixture
def mongo(tmp_path: Path) -> Iterator[MongoServer]:
    server = MongoServer(tmp_path / "mongo")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def journals(home: str) -> list[Path]:
    folder = Path(home) / "journal"
    return sorted(folder.glob("*.jsonl")) if folder.exists() else []


def test_a_runpod_run_whose_history_server_dies_ends_1_and_the_next_process_writes_it(
        runpod, s3, bucket, cloud_env, home, mongo):
    """Two shot jobs finish, two are held in flight; the history server then dies for good;
    the run finishes its shots on RunPod. Exit 1, the reason names the journal; once the
    server is back, a new process replays the journal and ``resume`` pays for nothing."""
    state = hold_shot_jobs_after(runpod)
    env = {**cloud_env, "MONGODB_URI": mongo.uri}

    with reaped(spawn("run", "--text", "A keeper and a boy in a storm.", "--json",
                      "--concurrency", "2", env=env)) as process:
        held_shot_jobs(runpod)
        mongo.stop()  # and it stays down

        def finish() -> None:
            state["hold"] = False
            runpod.fake.release_all()

        runpod.call(finish)
        out, err = process.communicate(timeout=180)

    assert process.returncode == 1, err
    [run] = json_lines(out)
    assert (run["status"], run["shots_done"], run["shot_count"]) == ("completed", 6, 6)
    [journal] = journals(home)
    assert run["history_error"] and str(journal) in run["history_error"]
    last = err.strip().splitlines()[-1]
    assert last.startswith("storyreel: history was not fully written") and str(journal) in last
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal.parent.stat().st_mode) == 0o700
    jobs = len(runpod.shot_jobs())
    assert jobs == 6

    mongo.start()  # the same server, back on the same address
    listed = storyreel("history", "--json", env=env)  # a new process replays the journal

    assert listed.returncode == 0, listed.stderr
    [stored] = json_lines(listed.stdout)
    assert stored["run_id"] == run["run_id"]
    assert (stored["status"], stored["shots_done"]) == ("completed", 6)
    assert journals(home) == []
    shown = one_run(storyreel("show", run["run_id"], "--json", env=env))
    assert [(s["shot_id"], s["status"], s["job_id"]) for s in shown["shots"]] == [
        (s["shot_id"], "done", s["job_id"]) for s in run["shots"]]

    resumed = storyreel("resume", "--json", env=env)

    assert resumed.returncode == 0, resumed.stderr
    assert "nothing to resume" in resumed.stderr and resumed.stdout == ""
    assert len(runpod.shot_jobs()) == jobs  # nothing rendered, nothing paid, twice


def corrupt_history(home: str) -> None:
    db = Path(home) / "db"
    db.mkdir(mode=0o700, parents=True, exist_ok=True)
    (db / "history.db").write_bytes(os.urandom(8192))


def test_a_runpod_run_does_not_start_without_a_writable_history(runpod, cloud_env, home):
    corrupt_history(home)

    result = storyreel("run", "--text", "A keeper and a boy in a storm.", "--json",
                       env=cloud_env)

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("storyreel: not started: this run would be paid for on RunPod")
    assert "cannot be resumed without paying twice" in last and "file is not a database" in last
    assert runpod.call(lambda: list(runpod.fake.submissions)) == []  # nothing paid for


def test_a_draft_run_on_a_corrupt_history_ends_1_with_the_reason(home):
    corrupt_history(home)

    result = storyreel("run", "--text", "A keeper and a door.", "--json", "--max-shots", "2")

    assert result.returncode == 1, result.stderr
    run = one_run(result)
    assert run["status"] == "completed"  # the pictures were made ...
    assert "history is unavailable" in run["history_error"]  # ... but nothing was kept
    assert "file is not a database" in run["history_error"]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("storyreel: history was not fully written: history is unavailable")
