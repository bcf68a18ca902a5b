"""Issue 5, item 5 (and issue 3, item 4): a ``storyreel run`` killed with SIGKILL half way is
found unfinished by the next process and ``storyreel resume`` finishes it, with no finished
shot rendered twice and no shot lost. Through the RunPod fake: the jobs submitted before
the kill are polled again, not submitted (and paid for) again.

History is the embedded store on the shared ``STORYREEL_HOME``; the tests read it between
processes through ``storyreel history`` and through the store itself (as a second app on
the same data folder would).
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

from app.core.history.factory import history_journal, open_embedded
from app.core.models import Run
from app.core.settings import Settings
from tests.integration.support import (
    held_shot_jobs,
    hold_shot_jobs_after,
    json_lines,
    long_idea,
    one_run,
    png_size,
    read_stderr_until,
    reaped,
    sha256_file,
    shot_of,
    spawn,
    storyreel,
)


def stored_run(home: str, run_id: str) -> Run:
    """The run as history holds it, read through the embedded store on ``home`` as the app
    opens it: with the journal, where a killed process left the changes it made ``later``
    (replayed on opening)."""

    async def read() -> Run:
        store = await open_embedded(Path(home) / "db", timeout_s=10.0,
                                    journal=history_journal(Settings(home=Path(home))))
        try:
            return await store.get_run(run_id)
        finally:
            await store.aclose()

    return asyncio.run(read())


def shot_of_run(key: str) -> str:
    """``runs/<run>/shots/<shot>/<attempt>.png`` -> the run id."""
    return key.split("/")[1]


def the_only_run_in_history() -> dict:
    listed = storyreel("history", "--json")
    assert listed.returncode == 0, listed.stderr
    [run] = json_lines(listed.stdout)
    return run


def test_a_killed_draft_run_resumes_without_loss_or_double_work(tmp_path, home):
    idea = long_idea(tmp_path)
    progress: list[str] = []
    with reaped(spawn("run", str(idea), "--json", "--concurrency", "1")) as process:
        # The progress line is printed after the shot was written to history.
        read_stderr_until(process, lambda line: re.search(r"rendering shots [2-9]/", line)
                          is not None, progress)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL

    listed = the_only_run_in_history()
    assert listed["status"] == "running"  # nobody finished it
    assert 2 <= listed["shots_done"] < listed["shot_count"]
    before = stored_run(home, listed["run_id"])
    done_before = {s.shot_id: s for s in before.shots if s.status.value == "done"}
    assert len(done_before) == listed["shots_done"]
    blobs = Path(home) / "blobs"
    files_before = {sid: {p.name: p.stat().st_mtime_ns
                          for p in (blobs / Path(s.image.key).parent).iterdir()}
                    for sid, s in done_before.items()}

    resumed = storyreel("resume", "--json")

    assert resumed.returncode == 0, resumed.stderr
    run = one_run(resumed)
    assert run["run_id"] == listed["run_id"]
    assert run["status"] == "completed"
    assert run["shots_done"] == run["shot_count"] == listed["shot_count"]
    assert [s["shot_id"] for s in run["shots"]] == [s.shot_id for s in before.shots]  # none lost
    for shot in run["shots"]:
        assert shot["status"] == "done"
        assert png_size(Path(shot["image_path"]).read_bytes())
        assert sha256_file(shot["image_path"]) == shot["image"]["sha256"]
        old = done_before.get(shot["shot_id"])
        if old is None:
            continue
        # finished before the kill: the same image, not drawn again
        assert shot["attempts"] == old.attempts == 1
        assert shot["image"]["key"] == old.image.key
        assert shot["image"]["sha256"] == old.image.sha256
        folder = blobs / Path(old.image.key).parent
        assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == (
            files_before[shot["shot_id"]])


def test_a_killed_runpod_run_polls_its_jobs_again_instead_of_resubmitting(
        runpod, s3, bucket, cloud_env, home):
    """Two shot jobs finish, the next two stay IN_PROGRESS; the process is killed; the jobs
    then finish on RunPod while nobody watches, and the resumed run collects them."""
    state = hold_shot_jobs_after(runpod)

    with reaped(spawn("run", "--text", "A keeper and a boy in a storm.", "--json",
                      "--concurrency", "2", env=cloud_env)) as process:
        # A held job being polled has had its id written to history (the renderer records
        # the id before it starts polling), and two workers on held jobs means the two
        # finished shots are recorded too.
        held = held_shot_jobs(runpod)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)

    jobs_before = runpod.shot_jobs()
    assert len(jobs_before) == 4
    run_id = shot_of_run(jobs_before[0]["key"])
    before = stored_run(home, run_id)
    assert (before.status.value, before.shots_done, before.shot_count) == ("running", 2, 6)
    by_key = {j["key"]: j for j in jobs_before}
    recorded = {s.shot_id: s.job_id for s in before.shots if s.status.value == "rendering"}
    assert sorted(recorded.values()) == sorted(j["id"] for j in held)  # ids were persisted
    done_before = {s.shot_id: s.job_id for s in before.shots if s.status.value == "done"}
    assert len(done_before) == 2

    # The held jobs end on RunPod while no app is running; new jobs finish at once.
    def finish_offline() -> None:
        state["hold"] = False
        runpod.fake.release_all()

    runpod.call(finish_offline)
    reads_before = {j["id"]: j["reads"] for j in held}

    resumed = storyreel("resume", run_id, "--json", env=cloud_env)

    assert resumed.returncode == 0, resumed.stderr
    run = one_run(resumed)
    assert run["status"] == "completed" and run["shots_done"] == 6
    jobs_after = runpod.shot_jobs()
    new = jobs_after[len(jobs_before):]
    # only the two shots that never had a job were submitted; nothing was paid twice
    assert len(new) == 2
    assert not {j["key"] for j in new} & set(by_key)
    assert len(jobs_after) == run["shot_count"]
    reads_after = {j["id"]: j["reads"] for j in jobs_after}
    for shot in run["shots"]:
        assert shot["attempts"] == 1
        assert sha256_file(shot["image_path"]) == shot["image"]["sha256"]
        assert s3.get(bucket, shot["image"]["key"]) == Path(shot["image_path"]).read_bytes()
        if shot["shot_id"] in recorded:  # in flight at the kill: polled again, collected
            assert shot["job_id"] == recorded[shot["shot_id"]]
            assert reads_after[shot["job_id"]] > reads_before[shot["job_id"]]
        elif shot["shot_id"] in done_before:  # finished before the kill: left alone
            assert shot["job_id"] == done_before[shot["shot_id"]]
            assert reads_after[shot["job_id"]] == by_key[shot["image"]["key"]]["reads"]
        else:
            assert shot["job_id"] in {j["id"] for j in new}
    assert {shot_of(j["key"])[1] for j in jobs_after} == {1}
