"""The RunPod renderer against the fake RunPod API, alone and driven by the pipeline.

The fake's shot endpoint checks every job input with the worker's own
validation (``app.worker.handler.parse_input``), so these tests also prove that
what the renderer sends is what the worker accepts.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import aiohttp
import pytest

from app.core.errors import ConfigError, RenderError
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus, Shot, ShotStatus, ShotType
from app.core.pipeline import Pipeline
from app.core.pipeline import RetryPolicy as ShotRetry
from app.core.renderers import Renderer, RenderRequest
from app.core.renderers.runpod import RunPodRenderer, fit_side, read_shot_output, shot_job_input
from app.core.runpod import PollPolicy, RetryPolicy, RunPodClient
from app.core.settings import parse
from tests.fakes.runpod_server import FakeRunPod, JobPlan, sdk_error, shot_handler
from tests.fakes.waiting import eventually
from tests.fakes.writers import StaticWriter

ENDPOINT = "shots1"
BUCKET = "storyreel"
FAST_POLL = PollPolicy(first_s=0.002, factor=1.5, max_s=0.01)
FAST_RETRY = RetryPolicy(attempts=3, base_s=0.001, max_s=0.005)
IDEA = from_text("A woman in a red coat crosses a city at dawn.")


def make_shot(**changes) -> Shot:
    fields = dict(run_id="20261127-120000-abcdef", shot_id="s01-02", scene=1, index=2,
                  number="1B", shot_type=ShotType.CLOSE_UP, camera="dolly in",
                  description="Ada looks up.", prompt="close-up shot, camera dolly in. Ada.",
                  seed=1234, attempts=1)
    fields.update(changes)
    return Shot(**fields)


def make_request(shot: Shot | None = None, **changes) -> RenderRequest:
    fields = dict(shot=shot or make_shot(), scene_heading="EXT. CITY - DAWN", attempt=1,
                  width=1024, height=576, negative_prompt="text, watermark")
    fields.update(changes)
    return RenderRequest(**fields)


@pytest.fixture
async def fake():
    server = FakeRunPod()
    server.handlers[ENDPOINT] = shot_handler()
    async with server:
        yield server


def make_renderer(fake: FakeRunPod, **kwargs) -> RunPodRenderer:
    client = RunPodClient(fake.api_key, base_url=fake.base_url, poll=FAST_POLL,
                          retry=FAST_RETRY, rng=random.Random(3))
    return RunPodRenderer(client, ENDPOINT, bucket=BUCKET, **kwargs)


@pytest.fixture
async def renderer(fake):
    r = make_renderer(fake)
    yield r
    await r.aclose()


# The pure job builder and output reader.


def test_job_input_is_the_design_contract():
    assert shot_job_input(make_request(), bucket=BUCKET) == {
        "task": "shot",
        "prompt": "close-up shot, camera dolly in. Ada.",
        "negative_prompt": "text, watermark",
        "width": 1024,
        "height": 576,
        "seed": 1234,
        "steps": 4,
        "guidance": 0.0,
        "output": {"bucket": "storyreel",
                   "key": "runs/20261127-120000-abcdef/shots/s01-02/1.png"},
        "provenance": {"run_id": "20261127-120000-abcdef", "scene": 1, "shot_id": "s01-02",
                       "shot_number": "1B", "attempt": 1},
    }


def test_job_input_names_the_shot_and_attempt_for_the_images_provenance():
    from app.worker.handler import parse_input

    request = make_request(make_shot(scene=3, shot_id="s03-04", number="3D"), attempt=2)
    payload = shot_job_input(request, bucket=BUCKET)
    assert payload["provenance"] == {"run_id": "20261127-120000-abcdef", "scene": 3,
                                     "shot_id": "s03-04", "shot_number": "3D", "attempt": 2}
    assert payload["output"]["key"].endswith("/shots/s03-04/2.png")
    origin = parse_input(payload).origin  # the worker takes it, agreeing with the key
    assert (origin.run_id, origin.scene, origin.shot_id, origin.shot_number,
            origin.attempt) == ("20261127-120000-abcdef", 3, "s03-04", "3D", 2)


def test_job_input_rounds_sides_to_multiples_of_16_within_bounds():
    payload = shot_job_input(make_request(width=1000, height=100), bucket=BUCKET)
    assert (payload["width"], payload["height"]) == (1008, 256)
    assert [fit_side(v) for v in (4096, 576, 1032, 1031)] == [2048, 576, 1040, 1024]


def test_job_input_falls_back_to_the_description():
    payload = shot_job_input(make_request(make_shot(prompt="")), bucket=BUCKET)
    assert payload["prompt"] == "Ada looks up."


GOOD = {"image": {"bucket": BUCKET, "key": "runs/r/shots/s01-01/1.png", "width": 1024,
                  "height": 576, "seed": 5, "sha256": "a" * 64, "bytes": 10,
                  "mime": "image/png"},
        "timings": {"render_s": 1.5, "upload_s": 0.1, "bogus": "x"}, "model": "flux"}


def test_read_shot_output_accepts_the_contract():
    key = "runs/r/shots/s01-01/1.png"
    image, timings, model = read_shot_output(GOOD, bucket=BUCKET, key=key)
    assert image.store == "r2" and image.sha256 == "a" * 64 and image.bytes == 10
    assert timings == {"render_s": 1.5, "upload_s": 0.1} and model == "flux"


@pytest.mark.parametrize("change, problem", [
    ({"key": "runs/other/1.png"}, "not 'storyreel'/'runs/r/shots/s01-01/1.png'"),
    ({"bucket": "elsewhere"}, "the image went to"),
    ({"sha256": "XYZ"}, "sha256"),
    ({"bytes": 0}, "empty"),
    ({"width": True}, "image.width"),
    ({"seed": "5"}, "image.seed"),
    ({"mime": "text/plain"}, "mime"),
])
def test_read_shot_output_refuses_a_broken_contract(change, problem):
    output = {**GOOD, "image": {**GOOD["image"], **change}}
    with pytest.raises(ValueError, match=problem.replace("(", r"\(")):
        read_shot_output(output, bucket=BUCKET, key="runs/r/shots/s01-01/1.png")
    with pytest.raises(ValueError):
        read_shot_output(["not", "an", "object"], bucket=BUCKET, key="k.png")


# One shot at a time.


async def test_renders_a_shot_and_reports_the_job_at_once(fake, renderer):
    assert isinstance(renderer, Renderer)
    fake.plan_next(JobPlan(queue_s=0.01, run_s=0.02, hold=True))
    seen = []

    async def on_job(job_id: str) -> None:
        seen.append((job_id, fake.state(job_id)))  # recorded before the job has finished
        fake.release(job_id)

    result = await renderer.render_shot(make_request(on_job=on_job))
    [job] = fake.submissions
    assert seen == [(job.id, seen[0][1])] and seen[0][1] in ("IN_QUEUE", "IN_PROGRESS")
    assert result.job_id == job.id and result.model == "fake-flux"
    image = result.image
    assert image.store == "r2" and image.bucket == BUCKET
    assert image.key == "runs/20261127-120000-abcdef/shots/s01-02/1.png"
    assert (image.width, image.height, image.seed) == (1024, 576, 1234)
    assert job.input["output"] == {"bucket": BUCKET, "key": image.key}
    # gpu_s and queue_s come from RunPod's executionTime and delayTime (ms).
    assert result.timings["gpu_s"] == pytest.approx(
        (job.finished_at - job.started_at), abs=0.0015)
    assert result.timings["queue_s"] == pytest.approx(
        (job.started_at - job.submitted_at), abs=0.0015)
    assert result.timings["worker_render_s"] == 0.01


@pytest.mark.parametrize("plan, retryable, words", [
    (JobPlan(outcome="FAILED", error=sdk_error("CUDA error: out of memory")), True,
     "failed: RuntimeError: CUDA error: out of memory"),
    (JobPlan(outcome="TIMED_OUT"), True, "timed out"),
])
async def test_failed_and_timed_out_jobs_may_be_retried(fake, renderer, plan, retryable, words):
    fake.plan_next(plan)
    with pytest.raises(RenderError) as caught:
        await renderer.render_shot(make_request())
    assert caught.value.retryable is retryable
    assert words in str(caught.value)


async def test_a_cancelled_job_is_not_retried(fake, renderer):
    fake.plan_next(JobPlan(hold=True))

    async def on_job(job_id: str) -> None:
        fake.jobs[job_id].status = "CANCELLED"  # someone cancelled it in RunPod's console
        fake.jobs[job_id].finished_at = fake.clock()

    with pytest.raises(RenderError, match="was cancelled") as caught:
        await renderer.render_shot(make_request(on_job=on_job))
    assert caught.value.retryable is False


async def test_input_the_worker_refuses_is_not_retried(fake, renderer):
    with pytest.raises(RenderError, match="refused the shot: invalid shot input") as caught:
        await renderer.render_shot(make_request(make_shot(prompt="", description="")))
    assert caught.value.retryable is False


async def test_output_breaking_the_contract_is_not_retried(fake, renderer):
    fake.handlers[ENDPOINT] = lambda job_input: {"image": {"bucket": BUCKET, "key": "x.png"}}
    with pytest.raises(RenderError, match="breaks the shot worker contract") as caught:
        await renderer.render_shot(make_request())
    assert caught.value.retryable is False


async def test_a_refused_key_is_not_retried(fake):
    client = RunPodClient("wrong-key", base_url=fake.base_url, poll=FAST_POLL, retry=FAST_RETRY)
    renderer = RunPodRenderer(client, ENDPOINT, bucket=BUCKET)
    try:
        with pytest.raises(RenderError, match="API key was refused") as caught:
            await renderer.render_shot(make_request())
    finally:
        await renderer.aclose()
    assert caught.value.retryable is False


async def test_an_unreachable_api_may_be_retried(fake, renderer):
    fake.inject("run", 503, times=5)
    with pytest.raises(RenderError, match="could not be submitted") as caught:
        await renderer.render_shot(make_request())
    assert caught.value.retryable is True


async def test_cancelling_the_task_cancels_the_job(fake, renderer):
    fake.plan_next(JobPlan(hold=True))
    task = asyncio.create_task(renderer.render_shot(make_request()))
    await eventually(fake.in_progress, what="the job to start")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [job] = fake.submissions
    assert fake.cancels == [job.id] and fake.state(job.id) == "CANCELLED"


async def test_a_detached_run_leaves_its_job_running(fake, renderer):
    fake.plan_next(JobPlan(hold=True))
    recorded = asyncio.Event()  # the job id is in history: the job can be resumed

    async def on_job(job_id: str) -> None:
        recorded.set()

    task = asyncio.create_task(renderer.render_shot(
        make_request(keep_job=lambda: True, on_job=on_job)))
    await asyncio.wait_for(recorded.wait(), 10)
    await eventually(fake.in_progress, what="the job to start")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [job] = fake.submissions
    assert fake.cancels == [] and fake.state(job.id) == "IN_PROGRESS"


async def test_resume_polls_a_known_job_instead_of_paying_again(fake, renderer):
    fake.plan_next(JobPlan(hold=True))
    first = asyncio.create_task(renderer.render_shot(make_request()))
    await eventually(fake.in_progress, what="the job to start")
    [job] = fake.submissions
    # A second process resumes the same job while it runs.
    other = make_renderer(fake)
    try:
        called = []

        async def on_job(job_id: str) -> None:
            called.append(job_id)

        resumed = asyncio.create_task(
            other.render_shot(make_request(resume_job_id=job.id, on_job=on_job)))
        await asyncio.sleep(0.02)
        fake.release(job.id)
        result = await resumed
        assert result.job_id == job.id and called == []
        assert len(fake.submissions) == 1
        await first
    finally:
        await other.aclose()


async def test_resume_submits_again_when_runpod_forgot_the_job(fake, renderer):
    called = []

    async def on_job(job_id: str) -> None:
        called.append(job_id)

    result = await renderer.render_shot(make_request(resume_job_id="job-long-gone",
                                                     on_job=on_job))
    [job] = fake.submissions
    assert result.job_id == job.id == called[0]


def test_from_settings(tmp_path: Path):
    values = {"RUNPOD_API_KEY": "rp-key", "RUNPOD_SHOT_ENDPOINT": "shots9",
              "RUNPOD_ENDPOINT_BASE_URL": "http://127.0.0.1:9/v2",
              "R2_ACCOUNT_ID": "abc123", "R2_ACCESS_KEY_ID": "id",
              "R2_SECRET_ACCESS_KEY": "secret", "R2_BUCKET": "my-boards"}
    renderer = RunPodRenderer.from_settings(parse(values, home=tmp_path))
    assert renderer.name == "RunPod shots9" and renderer.bucket == "my-boards"
    assert renderer.client.base_url == "http://127.0.0.1:9/v2"
    no_r2 = {k: v for k, v in values.items() if not k.startswith("R2_")}
    with pytest.raises(ConfigError, match="R2"):
        RunPodRenderer.from_settings(parse(no_r2, home=tmp_path))
    with pytest.raises(ConfigError):
        RunPodRenderer.from_settings(parse({}, home=tmp_path))


# Driven by the pipeline.


async def instant(_: float) -> None:
    await asyncio.sleep(0)


def make_pipeline(renderer, history, *, scenes=2, shots=2, concurrency=4) -> Pipeline:
    return Pipeline(StaticWriter(scenes, shots), renderer, history, concurrency=concurrency,
                    retry=ShotRetry(max_attempts=3), sleep=instant, rng=random.Random(5))


async def test_a_run_renders_every_shot_on_runpod(fake, renderer):
    history = MemoryHistory()
    run = await make_pipeline(renderer, history).start(IDEA, RunOptions(seed=9))
    assert run.status is RunStatus.COMPLETED, run.error
    stored = await history.get_run(run.run_id)
    assert [s.status for s in stored.shots] == [ShotStatus.DONE] * 4
    assert {s.job_id for s in stored.shots} == {j.id for j in fake.submissions}
    assert all(s.image.store == "r2" and s.image.key.endswith("/1.png") for s in stored.shots)
    assert stored.gpu_seconds == round(sum(s.timings["gpu_s"] for s in stored.shots), 3)


async def test_a_run_where_a_third_of_the_jobs_fail_once_still_completes(fake, renderer):
    def plan_for(endpoint, job_input, n):
        first_try = job_input["output"]["key"].endswith("/1.png")
        return JobPlan(outcome="FAILED" if first_try and n % 3 == 0 else "COMPLETED",
                       error=sdk_error("worker lost"))

    fake.plan_for = plan_for
    history = MemoryHistory()
    run = await make_pipeline(renderer, history, scenes=3, shots=3).start(IDEA)
    assert run.status is RunStatus.COMPLETED, run.error
    stored = await history.get_run(run.run_id)
    retried = [s for s in stored.shots if s.attempts == 2]
    assert len(retried) == 3 and all(s.image.key.endswith("/2.png") for s in retried)
    assert len(fake.submissions) == 9 + 3


async def test_a_shot_that_always_fails_leaves_the_run_partial_with_its_reason(fake, renderer):
    def plan_for(endpoint, job_input, n):
        doomed = "/s02-01/" in job_input["output"]["key"]
        return JobPlan(outcome="FAILED" if doomed else "COMPLETED",
                       error=sdk_error("NSFW filter tripped"))

    fake.plan_for = plan_for
    history = MemoryHistory()
    run = await make_pipeline(renderer, history).start(IDEA)
    assert run.status is RunStatus.PARTIAL
    stored = await history.get_run(run.run_id)
    doomed = stored.shot("s02-01")
    assert doomed.status is ShotStatus.FAILED and doomed.attempts == 3
    assert "NSFW filter tripped" in doomed.error


async def test_cancelling_a_run_leaves_no_job_running(fake, renderer):
    fake.default_plan = JobPlan(hold=True)
    history = MemoryHistory()
    pipeline = make_pipeline(renderer, history, scenes=3, shots=2, concurrency=3)
    task = asyncio.create_task(pipeline.start(IDEA))
    await eventually(lambda: len(fake.in_progress()) == 3, what="three jobs in progress")
    [run_id] = pipeline.active_runs
    assert pipeline.cancel(run_id)
    run = await task
    assert run.status is RunStatus.CANCELLED
    assert fake.running() == []
    assert sorted(fake.cancels) == sorted(j.id for j in fake.submissions)
    assert len(fake.submissions) == 3  # the other shots never started


class CrashableHistory(MemoryHistory):
    """A memory history that stops taking writes at the crash: what a dead process left."""

    crashed = False

    async def create_run(self, run):
        if not self.crashed:
            await super().create_run(run)

    async def update_run(self, run_id, fields, *, later=False):
        if not self.crashed:
            await super().update_run(run_id, fields)

    async def upsert_shot(self, shot, *, later=False):
        if not self.crashed:
            await super().upsert_shot(shot)


class CrashableClient(RunPodClient):
    """After the crash nothing this 'process' sends reaches RunPod (no cancel either)."""

    crashed = False

    async def _send(self, method, url, json_body):
        if self.crashed:
            raise aiohttp.ClientConnectionError("the process is gone")
        return await super()._send(method, url, json_body)


async def test_resume_after_a_crash_polls_known_jobs_and_resubmits_expired_ones(fake):
    """Stop a run half way as a crash would, then resume it in a fresh pipeline.

    The crash: at a moment when two shots are rendering (job ids recorded, jobs
    IN_PROGRESS on the fake), the history stops taking writes and the first
    client stops reaching RunPod, then the first pipeline's task is cancelled.
    So the history keeps the 'rendering' shots with their job ids (a plain
    cancel would have marked them cancelled), and no cancel reaches RunPod (a
    dead process sends none). Then RunPod forgets one of the two jobs.
    """
    fake.default_plan = JobPlan(hold=True)
    history = CrashableHistory()
    client1 = CrashableClient(fake.api_key, base_url=fake.base_url, poll=FAST_POLL,
                              retry=FAST_RETRY)
    first = make_pipeline(RunPodRenderer(client1, ENDPOINT, bucket=BUCKET), history,
                          concurrency=2)
    task = asyncio.create_task(first.start(IDEA))
    async def two_shots_rendering() -> bool:
        runs = await history.list_runs()
        shots = (await history.get_run(runs[0].run_id)).shots if runs else []
        rendering = [s for s in shots if s.status is ShotStatus.RENDERING and s.job_id]
        return len(rendering) == 2 and len(fake.in_progress()) == 2

    await eventually(two_shots_rendering, what="two shots rendering on RunPod")
    [run] = await history.list_runs()
    run_id = run.run_id
    rendering = [s for s in (await history.get_run(run_id)).shots
                 if s.status is ShotStatus.RENDERING]

    history.crashed = client1.crashed = True
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client1.aclose()

    assert fake.cancels == [] and len(fake.in_progress()) == 2
    kept, forgotten = sorted(rendering, key=lambda s: s.order)
    fake.expire(forgotten.job_id)
    fake.release(kept.job_id)
    fake.default_plan = JobPlan()
    submitted_before = len(fake.submissions)
    reads_before = fake.jobs[kept.job_id].status_reads

    history.crashed = False
    second_renderer = make_renderer(fake)
    try:
        run = await make_pipeline(second_renderer, history, concurrency=2).resume(run_id)
    finally:
        await second_renderer.aclose()

    assert run.status is RunStatus.COMPLETED, run.error
    stored = await history.get_run(run_id)
    assert all(s.status is ShotStatus.DONE for s in stored.shots)
    # The job RunPod still knew was polled, not paid for again.
    again = stored.shot(kept.shot_id)
    assert again.job_id == kept.job_id and again.attempts == 1
    assert fake.jobs[kept.job_id].status_reads > reads_before
    # The forgotten one was submitted again (same attempt, same key), and so were the
    # two shots that never started.
    redone = stored.shot(forgotten.shot_id)
    assert redone.job_id != forgotten.job_id and redone.attempts == 1
    new_jobs = fake.submissions[submitted_before:]
    assert len(new_jobs) == 3
    assert {j.input["output"]["key"].split("/")[3] for j in new_jobs} == (
        {s.shot_id for s in stored.shots} - {kept.shot_id})
