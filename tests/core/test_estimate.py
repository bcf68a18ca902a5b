"""Cost before spending: the estimate, and the actual GPU and queue time by stage after."""

from __future__ import annotations

import random

import pytest

from app.core.estimate import (
    DEFAULT_SHOT_GPU_S,
    DEFAULT_WRITER_STAGE_GPU_S,
    TYPICAL_SHOTS,
    estimate_from,
    estimate_run,
    usual_job_seconds,
)
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import Run, RunOptions, RunStatus, StageTimes
from app.core.pipeline import Pipeline, RetryPolicy
from app.core.runpod import PollPolicy, RunPodClient
from app.core.runpod import RetryPolicy as HttpRetry
from app.core.services import open_services
from app.core.settings import parse
from app.core.writers.runpod_vllm import RunPodVllmWriter
from tests.core.doubles import ScriptedRenderer
from tests.core.history.test_history_contract import make_shot
from tests.fakes.chat import FakeLLM
from tests.fakes.runpod_server import FakeRunPod, JobPlan, vllm_handler

GPU = {"writer": "RunPod vLLM llm1", "renderer": "RunPod shots1",
       "writer_on_gpu": True, "renderer_on_gpu": True}


def past(n: int, *, shots: int, done: int, gpu: float, writer_gpu: float = 0.0,
         writer="RunPod vLLM llm1", renderer="RunPod shots1") -> Run:
    stages = {"writing_script": StageTimes(jobs=1, gpu_s=writer_gpu / 2),
              "planning_scenes": StageTimes(jobs=1, gpu_s=writer_gpu / 2)} if writer_gpu else {}
    return Run(run_id=f"r{n}", idea="x", status=RunStatus.COMPLETED, writer=writer,
               renderer=renderer, shot_count=shots, shots_done=done, gpu_seconds=gpu,
               stages=stages)


def test_without_history_the_estimate_uses_the_stated_defaults_and_says_so():
    est = estimate_from([], **GPU, price_per_gpu_s=0.001)
    assert (est.shots, est.shot_jobs, est.writer_jobs) == (TYPICAL_SHOTS, TYPICAL_SHOTS, 2)
    assert est.jobs == TYPICAL_SHOTS + 2
    assert est.gpu_seconds == pytest.approx(TYPICAL_SHOTS * DEFAULT_SHOT_GPU_S
                                            + 2 * DEFAULT_WRITER_STAGE_GPU_S)
    assert est.cost == pytest.approx(est.gpu_seconds * 0.001)
    assert "stated default" in est.describe() and "$0.12" in est.describe()


def test_recent_runs_on_the_same_endpoints_set_shot_count_and_seconds_per_shot():
    recent = [past(1, shots=10, done=10, gpu=50 + 30, writer_gpu=30),  # 5 s a shot
              past(2, shots=12, done=10, gpu=70, writer_gpu=10),        # 6 s a shot
              past(3, shots=30, done=30, gpu=300, renderer="RunPod other"),
              past(4, shots=99, done=99, gpu=999, writer="draft (offline)",
                   renderer="draft (offline)")]
    est = estimate_from(recent, **GPU)

    assert est.shots == 12  # median of 10, 12, 30 (same writer), rounded
    assert est.shot_gpu_s == pytest.approx(110 / 20)  # same renderer only; writer GPU left out
    assert est.writer_gpu_s == pytest.approx(40 / 4)  # per writer job
    assert est.cost is None and "cost unknown" in est.describe()


def test_max_shots_caps_the_shot_count_and_a_budget_caps_the_gpu_seconds():
    est = estimate_from([past(1, shots=10, done=10, gpu=40)], **GPU, max_shots=4)
    assert est.shots == 4
    capped = estimate_from([], **GPU, budget_gpu_s=30)
    assert capped.capped and capped.gpu_seconds == 30
    assert "the budget of 30 GPU seconds will stop it early" in capped.describe()


def test_an_offline_set_up_costs_nothing():
    est = estimate_from([], writer="draft (offline)", renderer="draft (offline)",
                        writer_on_gpu=False, renderer_on_gpu=False, price_per_gpu_s=0.01)
    assert (est.jobs, est.gpu_seconds, est.cost) == (0, 0, 0)
    assert "runs offline" in est.describe()


async def test_estimate_run_learns_only_from_finished_runs_in_history():
    history = MemoryHistory()
    await history.create_run(past(1, shots=8, done=8, gpu=16))
    unfinished = past(2, shots=50, done=1, gpu=500)
    unfinished.status = RunStatus.RUNNING
    await history.create_run(unfinished)
    est = await estimate_run(history, **GPU)
    assert (est.shots, est.shot_gpu_s) == (8, 2.0)


async def test_a_run_records_gpu_and_queue_time_of_its_writer_jobs_by_stage():
    fake = FakeRunPod()
    fake.handlers["llm1"] = vllm_handler(FakeLLM())
    await fake.start()
    client = RunPodClient(fake.api_key, base_url=fake.base_url,
                          poll=PollPolicy(first_s=0.002, factor=1.5, max_s=0.01),
                          retry=HttpRetry(attempts=3, base_s=0.001, max_s=0.01),
                          rng=random.Random(1))
    writer = RunPodVllmWriter(client, "llm1", model="m")
    history = MemoryHistory()
    try:
        fake.plan_next(JobPlan(queue_s=0.05, run_s=0.1), JobPlan(queue_s=0.02, run_s=0.2))
        pipeline = Pipeline(writer, ScriptedRenderer(), history, retry=RetryPolicy(1))
        run = await pipeline.start(from_text("A keeper and a storm."), RunOptions(max_shots=3))
    finally:
        await writer.aclose()
        await fake.close()

    stages = (await history.get_run(run.run_id)).stage_times()
    script, plan, shots = (stages[k] for k in ("writing_script", "planning_scenes",
                                               "rendering_shots"))
    assert (script.jobs, plan.jobs, shots.jobs) == (1, 1, 3)
    assert script.gpu_s == pytest.approx(0.1, abs=0.03)
    assert script.queue_s == pytest.approx(0.05, abs=0.03)
    assert plan.gpu_s == pytest.approx(0.2, abs=0.03)
    assert shots.gpu_s == pytest.approx(3 * 0.5)  # ScriptedRenderer bills 0.5 s a shot
    assert script.wall_s >= script.gpu_s
    saved = await history.get_run(run.run_id)
    assert saved.gpu_seconds == pytest.approx(script.gpu_s + plan.gpu_s + shots.gpu_s)
    assert saved.queue_seconds == pytest.approx(script.queue_s + plan.queue_s)


def test_failed_attempts_count_as_jobs_and_their_gpu_time_is_billed():
    run = Run(idea="x")
    shot = make_shot(run, 1, 1, timings={"gpu_s": 1.0, "queue_s": 0.5, "failed_gpu_s": 2.0,
                                         "failed_jobs": 2})
    run.shots = [shot]
    run.tally()
    assert run.stage_times()["rendering_shots"] == StageTimes(jobs=3, gpu_s=3.0, queue_s=0.5)
    assert (run.gpu_seconds, run.queue_seconds) == (3.0, 0.5)


def test_the_usual_job_time_is_gpu_plus_queue_per_shot_job_leaving_the_writer_out():
    old = past(1, shots=4, done=4, gpu=8 + 6, writer_gpu=6)
    old.queue_seconds = 4 + 1
    old.stages["writing_script"].queue_s = 1.0
    other = past(2, shots=4, done=4, gpu=400, renderer="RunPod elsewhere")
    assert usual_job_seconds([old, other], "RunPod shots1") == pytest.approx((8 + 4) / 4)
    assert usual_job_seconds([other], "RunPod shots1") is None


async def test_a_new_process_knows_from_history_how_long_its_shot_jobs_take(tmp_path):
    settings = parse({"RUNPOD_API_KEY": "k", "RUNPOD_SHOT_ENDPOINT": "shots1",
                      "R2_ENDPOINT_URL": "http://127.0.0.1:9", "R2_ACCESS_KEY_ID": "i",
                      "R2_SECRET_ACCESS_KEY": "s", "R2_BUCKET": "shots"}, home=tmp_path)
    services = await open_services(settings)
    try:
        assert services.renderer.client.expected_s("shots1") is None  # nothing to go by yet
        ran = past(1, shots=10, done=10, gpu=30, renderer=services.renderer.name)
        ran.queue_seconds = 20
        await services.history.create_run(ran)
    finally:
        await services.aclose()

    services = await open_services(settings)
    try:
        assert services.renderer.client.expected_s("shots1") == pytest.approx(5.0)
    finally:
        await services.aclose()
