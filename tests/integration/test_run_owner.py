"""Issue 14, item 5: two processes on one data folder never render the same run.

A ``storyreel run`` on the RunPod fake is held mid-render (two shot jobs IN_PROGRESS,
its heartbeat going). Another process's ``resume``, ``resume RUN`` and ``retry RUN``
leave the run alone, name the owner and submit nothing. Once the first process is
killed, ``resume`` takes the run over (saying so) and finishes it, polling the jobs
the first one submitted: no shot job is submitted, or paid for, twice.
"""

from __future__ import annotations

import re
import signal
import socket

from app.core.ownership import now_ms
from tests.integration.support import (
    held_shot_jobs,
    hold_shot_jobs_after,
    one_run,
    reaped,
    spawn,
    storyreel,
    wait_for,
)
from tests.integration.test_resume_after_kill import shot_of_run, stored_run


def test_a_second_process_leaves_a_live_run_alone_and_takes_it_over_once_its_owner_dies(
        runpod, s3, bucket, cloud_env, home):
    state = hold_shot_jobs_after(runpod)
    host = socket.gethostname()

    with reaped(spawn("run", "--text", "A keeper and a boy in a storm.", "--json",
                      "--concurrency", "2", env=cloud_env)) as first:
        held_shot_jobs(runpod)
        jobs_before = runpod.shot_jobs()
        run_id = shot_of_run(jobs_before[0]["key"])
        owner = stored_run(home, run_id).owner
        assert owner is not None and owner.pid == first.pid and owner.host == host
        busy = re.compile(rf"run {run_id} is being rendered by process {first.pid} on host "
                          rf"{re.escape(host)} \(heartbeat \d+ s ago\); leaving it alone")

        # Every unfinished run: this one is someone else's, so nothing to do (exit 0).
        everything = storyreel("resume", "--json", env=cloud_env)
        assert everything.returncode == 0, everything.stderr
        assert busy.search(everything.stderr), everything.stderr
        assert "nothing to resume" in everything.stderr and everything.stdout == ""

        # This run by name, or its shots: refused (exit 1), nothing changed.
        for command in (("resume", run_id), ("retry", run_id)):
            refused = storyreel(*command, "--json", env=cloud_env)
            assert refused.returncode == 1, (command, refused.stderr)
            assert busy.search(refused.stderr), (command, refused.stderr)
            assert refused.stdout == ""
        assert first.poll() is None  # still rendering
        assert runpod.shot_jobs()[len(jobs_before):] == []  # nobody else submitted a job
        still = stored_run(home, run_id).owner
        assert still is not None and still.token == owner.token  # still the first one's

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)

    # The held jobs end on RunPod meanwhile; new jobs finish at once.
    def finish_offline() -> None:
        state["hold"] = False
        runpod.fake.release_all()

    runpod.call(finish_offline)

    # The owner is a process of this machine that is gone: taken over at once.
    resumed = storyreel("resume", "--json", env=cloud_env)

    assert resumed.returncode == 0, resumed.stderr
    assert re.search(rf"run {run_id}: taking it over from process {first.pid} on host "
                     rf"{re.escape(host)}, which stopped", resumed.stderr), resumed.stderr
    run = one_run(resumed)
    assert run["run_id"] == run_id and run["status"] == "completed"
    assert run["shots_done"] == run["shot_count"] == 6
    jobs_after = runpod.shot_jobs()
    assert len(jobs_after) == run["shot_count"]  # one job per shot: none paid twice
    assert len({j["key"] for j in jobs_after}) == len(jobs_after)
    assert all(shot["attempts"] == 1 for shot in run["shots"])
    assert stored_run(home, run_id).owner is None  # released when the work ended


def test_a_frozen_owner_is_taken_over_after_its_heartbeat_runs_out_and_then_stands_down(
        runpod, s3, bucket, cloud_env, home):
    """SIGSTOP, not SIGKILL: the first process still exists (a suspended laptop), so only
    its heartbeat running out lets another take over. When it wakes it finds the run
    taken, stops, and writes nothing over the new owner's record."""
    state = hold_shot_jobs_after(runpod)

    with reaped(spawn("run", "--text", "A keeper and a boy in a storm.", "--json",
                      "--concurrency", "2", env=cloud_env)) as first:
        held_shot_jobs(runpod)
        run_id = shot_of_run(runpod.shot_jobs()[0]["key"])
        first.send_signal(signal.SIGSTOP)
        try:
            # Wait (on this machine's clock, as the taker judges) for the heartbeat to run out.
            owner = wait_for(lambda: stored_run(home, run_id).owner, "the owner record")
            wait_for(lambda: now_ms() > stored_run(home, run_id).owner.expires_ms,
                     "the frozen owner's heartbeat to run out", limit_s=60, step_s=0.5)
            runpod.call(lambda: (state.update(hold=False), runpod.fake.release_all()))

            resumed = storyreel("resume", run_id, "--json", env=cloud_env)

            assert resumed.returncode == 0, resumed.stderr
            assert f"taking it over from process {owner.pid}" in resumed.stderr
            run = one_run(resumed)
            assert run["status"] == "completed" and run["shots_done"] == 6
        finally:
            first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=120)

    assert first.returncode == 1, err  # it stood down: its run did not end there
    assert "taken over by another process" in err, err
    stored = stored_run(home, run_id)
    assert stored.status.value == "completed" and stored.owner is None
    assert [s.status.value for s in stored.shots] == ["done"] * 6
    jobs = runpod.shot_jobs()
    assert len(jobs) == 6 and len({j["key"] for j in jobs}) == 6  # none paid twice
