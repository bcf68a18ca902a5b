"""``storyreel run --json`` end to end on the cloud parts, configured by variables only.

The writer and the renderer talk to the fake RunPod cloud API (served from a thread of
this process: the CLI is another process); the shot endpoint runs the real worker
(``ShotWorker``, draft backend), which uploads each PNG to moto standing in for R2. The
CLI fetches the images back through its preview cache.
"""

from __future__ import annotations

import json
import re
import signal
import urllib.request
from pathlib import Path

import pytest

from tests.fakes.runpod_server import JobPlan, sdk_error
from tests.integration.support import (
    RUNPOD_KEY,
    S3_SECRET_KEY,
    SHOT_ENDPOINT,
    WRITER_ENDPOINT,
    json_lines,
    one_run,
    png_size,
    reaped,
    sha256_file,
    shot_of,
    show,
    spawn,
    storyreel,
    wait_for,
    writer_handler,
)

IDEA = "An old lighthouse keeper and a runaway boy keep the light burning through a storm."
JOB_S = 0.2  # every fake job runs this long: its executionTime is what the run pays for


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_run_on_runpod_and_r2_fetches_every_image_back(runpod, s3, bucket, cloud_env, home):
    runpod.call(lambda: setattr(runpod.fake, "default_plan", JobPlan(run_s=JOB_S)))

    result = storyreel("run", "--text", IDEA, "--json", "--seed", "7", env=cloud_env)

    assert result.returncode == 0, result.stderr
    run = one_run(result)
    assert run["status"] == "completed"
    assert run["shot_count"] == run["shots_done"] == len(run["shots"]) == 6
    assert run["shots_failed"] == 0
    jobs = {j["key"]: j for j in runpod.shot_jobs()}
    assert len(jobs) == 6 and {j["status"] for j in jobs.values()} == {"COMPLETED"}
    for shot in run["shots"]:
        image = shot["image"]
        assert (image["store"], image["bucket"]) == ("r2", bucket)
        assert image["key"] == f"runs/{run['run_id']}/shots/{shot['shot_id']}/1.png"
        # the local copy is a valid PNG, verified against the worker's sha256 and R2's bytes
        path = Path(shot["image_path"])
        assert path.is_file() and path.is_relative_to(Path(home) / "cache")
        assert png_size(path.read_bytes()) == (image["width"], image["height"]) == (1360, 768)
        assert sha256_file(path) == image["sha256"]
        assert s3.get(bucket, image["key"]) == path.read_bytes()
        # the job that made it is the one on record
        assert shot["job_id"] == jobs[image["key"]]["id"]
        assert shot["attempts"] == 1
    # GPU time is RunPod's executionTime of the jobs, as the fake reported it, by stage
    paid = sum(j["execution_ms"] for j in jobs.values()) / 1000
    stages = run["stages"]
    assert stages["rendering_shots"]["jobs"] == 6
    assert stages["rendering_shots"]["gpu_s"] == pytest.approx(paid, abs=0.01)
    assert stages["writing_script"]["jobs"] == stages["planning_scenes"]["jobs"] == 1
    writer = stages["writing_script"]["gpu_s"] + stages["planning_scenes"]["gpu_s"]
    assert run["gpu_seconds"] > 0
    assert run["gpu_seconds"] == pytest.approx(paid + writer, abs=0.01)
    assert run["queue_seconds"] == pytest.approx(
        sum(t["queue_s"] for t in stages.values()), abs=0.01)
    # the writer ran on the vLLM endpoint (script, then scene plan), not the draft writer
    writer_jobs = runpod.call(lambda: [j.input for j in runpod.fake.submissions
                                       if j.endpoint == WRITER_ENDPOINT])
    assert len(writer_jobs) == 2
    assert all(j["openai_route"] == "/v1/chat/completions" for j in writer_jobs)
    assert sorted(s3.keys(bucket)) == sorted(jobs)
    assert files_under(Path(home) / "blobs") == []  # nothing went to the local store

    shown = show(run["run_id"], env=cloud_env)
    assert shown["status"] == "completed"
    assert {s["shot_id"]: s["job_id"] for s in shown["shots"]} == {
        s["shot_id"]: s["job_id"] for s in run["shots"]}
    assert shown["gpu_seconds"] == run["gpu_seconds"]


def test_jobs_that_fail_once_are_retried_and_the_run_completes(runpod, s3, bucket, cloud_env):
    """Three shots out of ten (30 %) have their first job FAILED on the worker."""
    first_tries: list[str] = []

    def plan(endpoint, job_input, n):
        if endpoint != SHOT_ENDPOINT:
            return JobPlan()
        shot_id, attempt = shot_of(job_input["output"]["key"])
        if attempt == 1:
            first_tries.append(shot_id)
            if len(first_tries) % 10 in (2, 5, 8):
                return JobPlan(run_s=JOB_S, outcome="FAILED",
                               error=sdk_error("CUDA error: an illegal memory access"))
        return JobPlan(run_s=JOB_S)

    def steer() -> None:
        runpod.fake.plan_for = plan
        runpod.fake.handlers[WRITER_ENDPOINT] = writer_handler(scenes=2, shots=5)

    runpod.call(steer)

    result = storyreel("run", "--text", IDEA, "--json", "--seed", "8", env=cloud_env)

    assert result.returncode == 0, result.stderr
    run = one_run(result)
    assert run["status"] == "completed"
    assert run["shots_done"] == run["shot_count"] == 10
    jobs = runpod.shot_jobs()
    failed = [j for j in jobs if j["status"] == "FAILED"]
    assert len(failed) == 3
    retried = {shot_of(j["key"])[0] for j in failed}
    completed = {j["key"]: j["id"] for j in jobs if j["status"] == "COMPLETED"}
    assert len(jobs) == 13 and len(completed) == 10
    for shot in run["shots"]:
        attempt = 2 if shot["shot_id"] in retried else 1
        assert shot["attempts"] == attempt and shot["status"] == "done"
        assert shot["image"]["key"].endswith(f"/{shot['shot_id']}/{attempt}.png")
        assert shot["job_id"] == completed[shot["image"]["key"]]
        assert sha256_file(shot["image_path"]) == shot["image"]["sha256"]
    assert sorted(s3.keys(bucket)) == sorted(completed)  # failed jobs uploaded nothing


def test_a_shot_that_always_fails_ends_the_run_partial_with_the_reason_in_show(
        runpod, cloud_env):
    doomed = "s01-02"

    def plan(endpoint, job_input, n):
        if endpoint == SHOT_ENDPOINT and shot_of(job_input["output"]["key"])[0] == doomed:
            return JobPlan(run_s=JOB_S, outcome="FAILED", error=sdk_error(
                "CUDA out of memory. Tried to allocate 2.00 GiB", "torch.OutOfMemoryError"))
        return JobPlan(run_s=JOB_S)

    runpod.call(lambda: setattr(runpod.fake, "plan_for", plan))
    env = {**cloud_env, "STORYREEL_MAX_ATTEMPTS": "2"}

    result = storyreel("run", "--text", IDEA, "--json", env=env)

    assert result.returncode == 1, result.stderr
    run = one_run(result)
    assert run["status"] == "partial"
    assert (run["shots_done"], run["shots_failed"], run["shot_count"]) == (5, 1, 6)
    tries = [j for j in runpod.shot_jobs() if shot_of(j["key"])[0] == doomed]
    assert [j["status"] for j in tries] == ["FAILED"] * 2  # every attempt, then it gave up

    human = storyreel("show", run["run_id"], env=env)
    assert human.returncode == 0, human.stderr
    assert "[partial]" in human.stdout
    assert re.search(r"1B .* failed .*\n\s+RunPod job \S+ failed: OutOfMemoryError: CUDA out of "
                     r"memory", human.stdout), human.stdout
    [shot] = [s for s in run["shots"] if s["shot_id"] == doomed]
    assert shot["status"] == "failed" and shot["image_path"] is None
    assert "CUDA out of memory" in shot["error"]
    assert shot["job_id"] == tries[-1]["id"]


def test_ctrl_c_cancels_every_job_in_flight_on_runpod(runpod, cloud_env):
    """Two shot jobs finish; the next ones stay IN_PROGRESS until cancelled."""
    shot_jobs: list[int] = []

    def plan(endpoint, job_input, n):
        if endpoint != SHOT_ENDPOINT:
            return JobPlan()
        shot_jobs.append(n)
        return JobPlan(run_s=0.05) if len(shot_jobs) <= 2 else JobPlan(hold=True)

    runpod.call(lambda: setattr(runpod.fake, "plan_for", plan))

    with reaped(spawn("run", "--text", IDEA, "--json", "--concurrency", "3",
                      env=cloud_env)) as process:
        # Three held jobs being polled means two shots are done (each worker takes its
        # next shot only once the last one is recorded) and three are in flight.
        def in_flight() -> list[str]:
            jobs = runpod.shot_jobs()
            held = [j["id"] for j in jobs if j["held"] and j["reads"] >= 1]
            return held if len(held) == 3 else []

        held = wait_for(in_flight, "three shot jobs in flight")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)

    assert process.returncode == 1, err
    [run] = json_lines(out)
    assert run["status"] == "cancelled"
    assert [s["status"] for s in run["shots"]].count("done") == 2
    assert {s["status"] for s in run["shots"]} == {"done", "cancelled"}
    assert runpod.unfinished() == []  # nothing left running (and paid for) on RunPod
    assert set(held) <= set(runpod.cancels())
    states = {j["id"]: j["status"] for j in runpod.shot_jobs()}
    assert {states[i] for i in held} == {"CANCELLED"}


def test_ctrl_c_while_the_script_is_written_cancels_the_writer_job(runpod, cloud_env):
    runpod.call(lambda: setattr(runpod.fake, "plan_for", lambda endpoint, job_input, n:
                                JobPlan(hold=True)))

    with reaped(spawn("run", "--text", IDEA, "--json", env=cloud_env)) as process:
        def writer_job() -> list[str]:
            return runpod.call(lambda: [j.id for j in runpod.fake.submissions
                                        if j.endpoint == WRITER_ENDPOINT and j.status_reads])

        [job_id] = wait_for(writer_job, "the script job to be polled")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)

    assert process.returncode == 1, err
    [run] = json_lines(out)
    assert (run["status"], run["shot_count"]) == ("cancelled", 0)
    assert runpod.unfinished() == []
    assert runpod.cancels() == [job_id]
    assert runpod.shot_jobs() == []


def test_doctor_reports_endpoint_health_and_r2_and_never_a_secret(runpod, cloud_env):
    # One job busy on the shot endpoint, so the health figures are the fake's, not zeros.
    runpod.call(lambda: runpod.fake.plan_next(JobPlan(hold=True)))
    request = urllib.request.Request(
        f"{runpod.base_url}/{SHOT_ENDPOINT}/run", method="POST",
        data=json.dumps({"input": {"task": "shot"}}).encode(),
        headers={"Authorization": f"Bearer {RUNPOD_KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert json.load(answer)["status"] == "IN_QUEUE"

    result = storyreel("doctor", "--json", env=cloud_env)

    assert result.returncode == 0, result.stdout + result.stderr
    report = one_run(result)
    parts = {p["name"]: p for p in report["parts"]}
    assert report["ok"] is True
    assert parts["writer"]["mode"] == parts["renderer"]["mode"] == "cloud"
    assert parts["writer"]["message"] == (
        "workers: 1 idle, 0 running; jobs: 0 in queue, 0 in progress")
    assert parts["renderer"]["message"] == (
        "workers: 0 idle, 1 running; jobs: 0 in queue, 1 in progress")
    assert SHOT_ENDPOINT in parts["renderer"]["detail"]
    assert (parts["storage"]["mode"], parts["storage"]["ok"]) == ("cloud", True)
    assert parts["history"]["ok"] is True
    assert RUNPOD_KEY not in result.stdout + result.stderr
    assert S3_SECRET_KEY not in result.stdout + result.stderr

    wrong = "rp-WRONG-key-0123456789"
    refused = storyreel("doctor", "--json", env={**cloud_env, "RUNPOD_API_KEY": wrong})

    assert refused.returncode == 1
    report = one_run(refused)
    parts = {p["name"]: p for p in report["parts"]}
    assert report["ok"] is False
    for name in ("writer", "renderer"):
        assert parts[name]["ok"] is False
        assert "the RunPod API key was refused" in parts[name]["message"]
        assert "RUNPOD_API_KEY" in parts[name]["message"]  # what to fix
    assert parts["storage"]["ok"] is True
    everything = refused.stdout + refused.stderr
    assert wrong not in everything and RUNPOD_KEY not in everything
    assert S3_SECRET_KEY not in everything


def test_a_gpu_budget_stops_submitting_shot_jobs_on_runpod(runpod, s3, bucket, cloud_env,
                                                          home):
    runpod.call(lambda: setattr(runpod.fake, "default_plan", JobPlan(run_s=JOB_S)))

    # the writer's two jobs count too: 2 of the 3.5 allowed, then shots until it is spent
    result = storyreel("run", "--text", IDEA, "--json", "--concurrency", "1",
                       "--budget-gpu-seconds", str(3.5 * JOB_S), env=cloud_env)

    assert result.returncode == 1, result.stderr  # partial
    run = one_run(result)
    assert run["status"] == "partial"
    assert run["shots_done"] == 2 and len(runpod.shot_jobs()) == 2  # no job after the cap
    assert "stopped at the GPU budget" in run["error"]
    assert run["gpu_seconds"] >= 3.5 * JOB_S
    assert "estimate:" in result.stderr  # said before anything was spent
    assert {s["status"] for s in run["shots"][2:]} == {"cancelled"}
