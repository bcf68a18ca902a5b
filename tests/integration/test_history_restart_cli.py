"""Issue 14, item 4: the review killed the embedded history server (SIGKILL) while
``storyreel run`` rendered; the run said ``completed`` and exited 0, yet history showed
it ``running 0/42`` and ``resume`` would have rendered (and paid for) it all again.
Now the server is started again on the same address and history ends complete."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.integration.support import (
    json_lines,
    long_idea,
    one_run,
    read_stderr_until,
    reaped,
    spawn,
    storyreel,
    wait_for,
)

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir() or sys.platform == "win32",
                                reason="finds the server process through Linux's /proc")


def history_server_of(pid: int) -> int | None:
    """The embedded history server among the children of process ``pid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b"multiprocessing" in command and b"spawn_main" in command:
            return int(entry.name)
    return None


def test_a_run_whose_history_server_is_killed_is_kept_whole(tmp_path, home):
    idea = long_idea(tmp_path)
    progress: list[str] = []
    with reaped(spawn("run", str(idea), "--json", "--concurrency", "1")) as process:
        read_stderr_until(process, lambda line: re.search(r"rendering shots [1-9]/", line)
                          is not None, progress)
        server = wait_for(lambda: history_server_of(process.pid), "the history server")
        os.kill(server, signal.SIGKILL)
        out, err = process.communicate(timeout=180)

    assert process.returncode == 0, err
    run = json_lines(out)[-1]
    assert run["status"] == "completed" and run["shots_done"] == run["shot_count"]
    assert "could not be written" not in err
    assert "starting it again" in err  # the restart is said
    assert re.search(r"rendering shots \d+/", err)  # and the run went on after the kill

    listed = storyreel("history", "--json")
    assert listed.returncode == 0, listed.stderr
    [kept] = json_lines(listed.stdout)
    assert kept["run_id"] == run["run_id"]
    assert (kept["status"], kept["shots_done"]) == ("completed", run["shot_count"])
    shown = one_run(storyreel("show", run["run_id"], "--json"))
    assert [s["status"] for s in shown["shots"]] == ["done"] * run["shot_count"]
