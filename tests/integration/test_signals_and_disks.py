"""The edges, as a person meets them, with real processes: a full disk under the data
folder, and an mp4 export stopped by SIGTERM or SIGKILL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.disks import tmpfs
from tests.integration.support import storyreel

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
