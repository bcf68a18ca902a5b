import asyncio
import io
import random

import pytest

from app.core import events as ev
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus, ShotStatus, Stage
from app.core.pipeline import Pipeline, RetryPolicy, limit_shots
from tests.core.doubles import PlannedWriter, ScriptedRenderer, wait_until

IDEA = from_text("A lighthouse keeper keeps the light burning through a storm.")


class Recorder:
    def __init__(self):
        self.events: list[ev.Event] = []

    def __call__(self, event):
        self.events.append(event)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


class Sleeps:
    """Injected sleep: records backoff delays without waiting them out."""

    def __init__(self):
        self.delays: list[float] = []

    async def __call__(self, delay):
        self.delays.append(delay)
        await asyncio.sleep(0)


def make(writer=None, renderer=None, *, concurrency=4, attempts=3, history=None, sleep=None):
    recorder = Recorder()
    pipeline = Pipeline(
        writer or PlannedWriter(),
        renderer or ScriptedRenderer(),
        history or MemoryHistory(),
        concurrency=concurrency,
        retry=RetryPolicy(max_attempts=attempts, base_delay_s=0.5, max_delay_s=4.0),
        sleep=sleep or Sleeps(),
        rng=random.Random(1),
    )
    pipeline.subscribe(recorder)
    return pipeline, recorder


async def test_a_run_goes_through_the_stages_in_order_and_completes():
    pipeline, rec = make()
    run = await pipeline.start(IDEA, RunOptions(seed=5))

    assert run.status is RunStatus.COMPLETED
    assert (run.shot_count, run.shots_done, run.shots_failed) == (12, 12, 0)
    kinds = [type(e).__name__ for e in rec.events]
    assert kinds[:6] == ["RunStarted", "StageStarted", "ScriptWritten", "StageStarted",
                         "ScenesPlanned", "StageStarted"]
    assert kinds[-1] == "RunFinished"
    assert [e.stage for e in rec.of(ev.StageStarted)] == [
        Stage.WRITING_SCRIPT, Stage.PLANNING_SCENES, Stage.RENDERING_SHOTS]
    # every shot starts before it finishes, and finishes exactly once
    for shot in run.shots:
        started = [i for i, e in enumerate(rec.events)
                   if isinstance(e, ev.ShotStarted) and e.shot.shot_id == shot.shot_id]
        finished = [i for i, e in enumerate(rec.events)
                    if isinstance(e, ev.ShotFinished) and e.shot.shot_id == shot.shot_id]
        assert len(started) == 1 and len(finished) == 1 and started[0] < finished[0]
    assert all(e.run_id == run.run_id for e in rec.events)


async def test_the_run_is_in_history_before_the_writer_is_called():
    history = MemoryHistory()

    class CheckingWriter(PlannedWriter):
        async def write_script(self, idea, *, seed, style):
            [stored] = await history.list_runs()
            assert stored.status is RunStatus.RUNNING
            return await super().write_script(idea, seed=seed, style=style)

    pipeline, _ = make(CheckingWriter(), history=history)
    run = await pipeline.start(IDEA)
    assert run.status is RunStatus.COMPLETED


async def test_history_holds_the_final_state_of_the_run_and_of_every_shot():
    history = MemoryHistory()
    pipeline, _ = make(renderer=ScriptedRenderer(failures={"s02-01": 9}), history=history)
    run = await pipeline.start(IDEA, RunOptions(seed=3))

    stored = await history.get_run(run.run_id)
    assert stored.status is RunStatus.PARTIAL
    assert stored.title == run.title and stored.script == run.script
    assert [(s.shot_id, s.status, s.attempts, s.job_id) for s in stored.shots] == [
        (s.shot_id, s.status, s.attempts, s.job_id) for s in run.shots]
    assert (stored.shots_done, stored.shots_failed) == (11, 1)
    assert stored.gpu_seconds == pytest.approx(11 * 0.5 + 3 * 0.25)  # failed attempts billed
    assert stored.finished_at is not None


async def test_never_more_shots_in_flight_than_the_concurrency():
    renderer = ScriptedRenderer(latency=0.01)
    pipeline, _ = make(PlannedWriter(scenes=8, shots_per_scene=5), renderer, concurrency=5)
    run = await pipeline.start(IDEA)

    assert run.shots_done == 40
    assert renderer.max_in_flight == 5  # reached, never exceeded


async def test_shots_are_started_in_story_order():
    renderer = ScriptedRenderer()
    pipeline, _ = make(PlannedWriter(scenes=3, shots_per_scene=3), renderer, concurrency=1)
    await pipeline.start(IDEA)
    ids = [shot_id for shot_id, _ in renderer.calls]
    assert ids == sorted(ids)


async def test_each_shot_is_announced_the_moment_it_lands_not_after_the_slowest():
    # The first shot is held until every other shot has been announced as finished.
    # A pipeline that waited for all shots before announcing any would never release it.
    gate = asyncio.Event()
    renderer = ScriptedRenderer(gates={"s01-01": gate})
    pipeline, rec = make(PlannedWriter(scenes=2, shots_per_scene=3), renderer, concurrency=6)

    def release_when_others_shown(event):
        if isinstance(event, ev.ShotFinished) and len(rec.of(ev.ShotFinished)) == 5:
            gate.set()

    pipeline.subscribe(release_when_others_shown)
    run = await asyncio.wait_for(pipeline.start(IDEA), timeout=10)

    finished = [e.shot.shot_id for e in rec.of(ev.ShotFinished)]
    assert run.status is RunStatus.COMPLETED
    assert finished[-1] == "s01-01"
    assert len(finished) == 6


async def test_a_failing_shot_is_retried_with_growing_jittered_delays_then_succeeds():
    sleeps = Sleeps()
    renderer = ScriptedRenderer(failures={"s01-02": 2})
    pipeline, rec = make(renderer=renderer, sleep=sleeps, attempts=3)
    run = await pipeline.start(IDEA)

    shot = run.shot("s01-02")
    assert shot.status is ShotStatus.DONE
    assert shot.attempts == 3
    assert shot.error is None
    assert [a for sid, a in renderer.calls if sid == "s01-02"] == [1, 2, 3]  # a new key each
    assert shot.image.key == f"runs/{run.run_id}/shots/s01-02/3.png"
    retries = rec.of(ev.ShotRetrying)
    assert [e.shot.attempts for e in retries] == [1, 2]
    assert all("CUDA out of memory" in e.error for e in retries)
    # exponential backoff with jitter: attempt n waits within [base*2^(n-1)/2, base*2^(n-1)]
    assert len(sleeps.delays) == 2
    assert 0.25 <= sleeps.delays[0] <= 0.5
    assert 0.5 <= sleeps.delays[1] <= 1.0
    assert [e.delay_s for e in retries] == sleeps.delays
    assert run.status is RunStatus.COMPLETED
    # the two failed attempts were billed too: 11 shots x 0.5 + (0.5 + 2 x 0.25)
    assert shot.timings["failed_gpu_s"] == 0.5
    assert run.gpu_seconds == pytest.approx(12 * 0.5 + 0.5)


def test_backoff_is_capped_and_jittered():
    policy = RetryPolicy(max_attempts=10, base_delay_s=1.0, max_delay_s=5.0)
    rng = random.Random(0)
    delays = [policy.delay(n, rng) for n in range(1, 10)]
    assert all(d <= 5.0 for d in delays)
    assert max(delays[4:]) > 2.5  # reached the cap region
    assert len({round(d, 6) for d in delays[4:]}) > 1  # not in lockstep


async def test_retries_exhausted_mark_the_shot_failed_and_the_run_partial():
    renderer = ScriptedRenderer(failures={"s02-03": 99})
    pipeline, rec = make(renderer=renderer, attempts=3)
    run = await pipeline.start(IDEA)

    failed = run.shot("s02-03")
    assert failed.status is ShotStatus.FAILED
    assert failed.attempts == 3
    assert failed.error == "the job failed: CUDA out of memory"
    assert run.status is RunStatus.PARTIAL
    assert (run.shots_done, run.shots_failed) == (11, 1)
    final = [e for e in rec.of(ev.ShotFinished) if e.shot.shot_id == "s02-03"]
    assert [e.shot.status for e in final] == [ShotStatus.FAILED]


async def test_a_non_retryable_error_fails_the_shot_at_once():
    renderer = ScriptedRenderer(fatal={"s01-01"})
    pipeline, rec = make(renderer=renderer, attempts=5)
    run = await pipeline.start(IDEA)
    assert run.shot("s01-01").status is ShotStatus.FAILED
    assert run.shot("s01-01").attempts == 1
    assert not rec.of(ev.ShotRetrying)


async def test_a_bug_in_the_renderer_fails_the_shot_not_the_run():
    class Buggy(ScriptedRenderer):
        async def render_shot(self, request):
            if request.shot.shot_id == "s01-01":
                raise ZeroDivisionError("oops")
            return await super().render_shot(request)

    pipeline, _ = make(renderer=Buggy())
    run = await pipeline.start(IDEA)
    assert run.status is RunStatus.PARTIAL
    assert "internal error in the renderer (ZeroDivisionError)" in run.shot("s01-01").error


async def test_when_every_shot_fails_the_run_fails_with_the_reason():
    renderer = ScriptedRenderer(fatal={f"s0{s}-0{i}" for s in (1, 2, 3) for i in (1, 2, 3, 4)})
    pipeline, _ = make(renderer=renderer)
    run = await pipeline.start(IDEA)
    assert run.status is RunStatus.FAILED
    assert run.error == "every shot failed; first error: the job was cancelled on the endpoint"


@pytest.mark.parametrize("stage", ["script", "plan"])
async def test_a_writer_failure_fails_the_run_with_its_message(stage):
    history = MemoryHistory()
    renderer = ScriptedRenderer()
    pipeline, _ = make(PlannedWriter(fail=stage), renderer, history=history)
    run = await pipeline.start(IDEA)
    assert run.status is RunStatus.FAILED
    assert "the writer" in run.error
    assert renderer.calls == []
    assert (await history.get_run(run.run_id)).status is RunStatus.FAILED


async def test_cancel_mid_run_stops_new_shots_cancels_those_in_flight_and_leaves_no_tasks():
    history = MemoryHistory()
    renderer = ScriptedRenderer(latency=30)
    pipeline, rec = make(PlannedWriter(scenes=4, shots_per_scene=5), renderer, concurrency=3,
                         history=history)
    before = asyncio.all_tasks()
    task = asyncio.create_task(pipeline.start(IDEA))
    await asyncio.wait_for(renderer.started.wait(), 5)
    await wait_until(lambda: renderer.in_flight == 3)
    [run_id] = pipeline.active_runs
    assert pipeline.cancel(run_id)
    run = await asyncio.wait_for(task, 5)

    assert run.status is RunStatus.CANCELLED
    assert len(renderer.calls) == 3  # nothing new started after the cancel
    assert sorted(renderer.cancelled) == sorted(sid for sid, _ in renderer.calls)
    assert all(s.status is ShotStatus.CANCELLED for s in run.shots)
    assert asyncio.all_tasks() - before == set()  # no stray tasks
    stored = await history.get_run(run_id)
    assert stored.status is RunStatus.CANCELLED
    assert {s.status for s in stored.shots} == {ShotStatus.CANCELLED}
    assert isinstance(rec.events[-1], ev.RunFinished)
    assert pipeline.active_runs == []


async def test_cancelling_the_task_from_outside_records_the_run_as_cancelled():
    history = MemoryHistory()
    renderer = ScriptedRenderer(latency=30)
    pipeline, _ = make(renderer=renderer, history=history)
    task = asyncio.create_task(pipeline.start(IDEA))
    await asyncio.wait_for(renderer.started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [stored] = await history.list_runs()
    assert stored.status is RunStatus.CANCELLED


async def test_cancel_during_the_writer_stage():
    history = MemoryHistory()
    pipeline, _ = make(PlannedWriter(delay=30), history=history)
    task = asyncio.create_task(pipeline.start(IDEA))
    await wait_until(lambda: pipeline.active_runs)
    pipeline.cancel(pipeline.active_runs[0])
    run = await asyncio.wait_for(task, 5)
    assert run.status is RunStatus.CANCELLED
    assert run.shots == []


async def test_resume_renders_only_what_is_not_done():
    history = MemoryHistory()
    gate = asyncio.Event()  # never set: these shots hang until cancelled
    hung = {"s02-01", "s03-04"}
    first = ScriptedRenderer(gates={sid: gate for sid in hung})
    pipeline, _ = make(renderer=first, history=history, concurrency=2)
    task = asyncio.create_task(pipeline.start(IDEA, RunOptions(seed=11)))
    await wait_until(lambda: len(first.finished) == 10)
    pipeline.cancel(pipeline.active_runs[0])
    cancelled = await task
    assert cancelled.status is RunStatus.CANCELLED
    done_before = {s.shot_id for s in cancelled.shots if s.status is ShotStatus.DONE}
    assert len(done_before) == 10

    second = ScriptedRenderer()
    fresh, _ = make(renderer=second, history=history)  # as after a restart
    run = await fresh.resume(cancelled.run_id)

    assert run.status is RunStatus.COMPLETED
    assert {sid for sid, _ in second.calls} == hung  # finished shots are never paid twice
    assert run.shots_done == 12
    stored = await history.get_run(run.run_id)
    assert stored.status is RunStatus.COMPLETED
    assert [s.seed for s in stored.shots] == [s.seed for s in cancelled.shots]


async def test_resume_hands_a_shot_left_rendering_back_with_its_job_id():
    history = MemoryHistory()
    pipeline, _ = make(history=history)
    run = await pipeline.start(IDEA)
    # As a crash would leave it: a shot mid-render with a job id, the run still running.
    shot = run.shot("s01-02")
    shot.status, shot.job_id, shot.image = ShotStatus.RENDERING, "job-remote-7", None
    await history.upsert_shot(shot)
    await history.update_run(run.run_id, {"status": "running"})

    seen = []

    class Resuming(ScriptedRenderer):
        async def render_shot(self, request):
            seen.append((request.shot.shot_id, request.resume_job_id, request.attempt))
            return await super().render_shot(request)

    fresh, _ = make(renderer=Resuming(), history=history)
    resumed = await fresh.resume(run.run_id)
    assert seen == [("s01-02", "job-remote-7", 1)]  # same attempt: poll, don't pay again
    assert resumed.status is RunStatus.COMPLETED


async def test_retry_renders_failed_shots_again_as_a_new_attempt():
    history = MemoryHistory()
    pipeline, _ = make(renderer=ScriptedRenderer(failures={"s01-03": 99}), history=history,
                       attempts=2)
    run = await pipeline.start(IDEA)
    assert run.status is RunStatus.PARTIAL

    renderer = ScriptedRenderer()
    fresh, _ = make(renderer=renderer, history=history)
    retried = await fresh.retry(run.run_id)
    assert renderer.calls == [("s01-03", 3)]
    assert retried.status is RunStatus.COMPLETED
    assert retried.shot("s01-03").image.key.endswith("/s01-03/3.png")


async def test_retry_of_a_named_shot_renders_it_even_when_done():
    history = MemoryHistory()
    pipeline, _ = make(history=history)
    run = await pipeline.start(IDEA)
    renderer = ScriptedRenderer()
    fresh, _ = make(renderer=renderer, history=history)
    await fresh.retry(run.run_id, ["s02-02"])
    assert renderer.calls == [("s02-02", 2)]
    with pytest.raises(KeyError):
        await fresh.retry(run.run_id, ["s09-09"])


async def test_max_shots_keeps_the_first_shots_of_every_scene():
    pipeline, _ = make(PlannedWriter(scenes=3, shots_per_scene=4))
    run = await pipeline.start(IDEA, RunOptions(max_shots=5))
    assert [s.shot_id for s in run.shots] == ["s01-01", "s01-02", "s02-01", "s02-02", "s03-01"]


async def test_a_shot_cap_keeps_every_scene_in_the_run_and_says_so():
    from app.core.progress import ProgressPrinter

    pipeline, _ = make(PlannedWriter(scenes=4, shots_per_scene=3))
    out = io.StringIO()
    pipeline.subscribe(ProgressPrinter(out, label="idea"))
    run = await pipeline.start(IDEA, RunOptions(max_shots=2))
    assert [s.index for s in run.scenes] == [1, 2, 3, 4]
    assert {s.scene for s in run.shots} == {1, 2}
    assert "storyboarding 2 of 4" in out.getvalue()


def test_limit_shots_drops_scenes_left_without_shots():
    from tests.core.test_pipeline_plans import plans

    kept = limit_shots(plans(4, 3), 2)
    assert [p.scene.index for p in kept] == [1, 2]


async def test_shot_seeds_derive_from_the_run_seed():
    a, _ = make()
    b, _ = make()
    c, _ = make()
    run_a = await a.start(IDEA, RunOptions(seed=42))
    run_b = await b.start(IDEA, RunOptions(seed=42))
    run_c = await c.start(IDEA, RunOptions(seed=43))
    assert [s.seed for s in run_a.shots] == [s.seed for s in run_b.shots]
    assert [s.seed for s in run_a.shots] != [s.seed for s in run_c.shots]
    assert run_a.seed == 42


async def test_a_broken_listener_does_not_break_the_run():
    pipeline, _ = make()

    def broken(event):
        raise RuntimeError("listener bug")

    pipeline.subscribe(broken)
    run = await pipeline.start(IDEA)
    assert run.status is RunStatus.COMPLETED


async def test_shot_prompts_carry_the_cast_and_the_style():
    pipeline, _ = make()
    run = await pipeline.start(IDEA, RunOptions(style="comic ink, bold lines"))
    prompt = run.shots[0].prompt
    assert "MARA: tall, grey coat" in prompt
    assert prompt.endswith("comic ink, bold lines.")
    assert "wide shot" in prompt and "exterior, place 1, day" in prompt


async def test_regenerate_keeps_the_old_image_as_a_version_and_uses_a_new_seed():
    history = MemoryHistory()
    pipeline, _ = make(history=history)
    run = await pipeline.start(IDEA, RunOptions(seed=8))
    before = run.shot("s01-01")

    renderer = ScriptedRenderer()
    fresh, _ = make(renderer=renderer, history=history)
    after_run = await fresh.regenerate(run.run_id, "s01-01", prompt="  a new prompt  ")
    after = after_run.shot("s01-01")

    assert renderer.calls == [("s01-01", 2)]
    assert after.status is ShotStatus.DONE
    assert after.prompt == "a new prompt"
    assert after.seed != before.seed
    [old] = after.versions
    assert (old.image, old.prompt, old.seed, old.attempt) == (
        before.image, before.prompt, before.seed, 1)
    assert after.image.key.endswith("/s01-01/2.png")
    stored = (await history.get_run(run.run_id)).shot("s01-01")
    assert stored.versions == after.versions
    assert after_run.gpu_seconds == pytest.approx(13 * 0.5)  # the old version was billed too

    again = (await fresh.regenerate(run.run_id, "s01-01", seed=1234)).shot("s01-01")
    assert again.seed == 1234
    assert [v.attempt for v in again.versions] == [1, 2]


async def test_a_cancel_landing_in_a_history_write_still_records_every_shot_as_final():
    class SlowHistory(MemoryHistory):
        async def upsert_shot(self, shot, *, later=False):
            await asyncio.sleep(0.005)  # a network round trip, during which a cancel lands
            await super().upsert_shot(shot)

    history = SlowHistory()
    renderer = ScriptedRenderer(latency=0.002)
    pipeline, rec = make(PlannedWriter(scenes=6, shots_per_scene=5), renderer, concurrency=6,
                         history=history)
    task = asyncio.create_task(pipeline.start(IDEA))
    await wait_until(lambda: len(renderer.finished) >= 5)
    [run_id] = pipeline.active_runs
    pipeline.cancel(run_id)
    await asyncio.sleep(0.002)  # the shots are now recording their cancel...
    assert pipeline.cancel(run_id)  # ...when an impatient person clicks Cancel again
    run = await asyncio.wait_for(task, 10)

    assert run.status is RunStatus.CANCELLED
    final = {ShotStatus.DONE, ShotStatus.CANCELLED}
    assert {s.status for s in run.shots} <= final
    stored = await history.get_run(run.run_id)
    assert {s.status for s in stored.shots} <= final
    assert [(s.shot_id, s.status) for s in stored.shots] == [
        (s.shot_id, s.status) for s in run.shots]
    announced = sorted(e.shot.shot_id for e in rec.of(ev.ShotFinished))
    assert announced == sorted(s.shot_id for s in run.shots)  # each exactly once


async def test_detach_leaves_the_run_resumable_with_its_jobs_running():
    history = MemoryHistory()
    renderer = ScriptedRenderer(latency=30)
    renderer.announce_jobs = True
    pipeline, rec = make(PlannedWriter(scenes=2, shots_per_scene=4), renderer, concurrency=3,
                         history=history)
    task = asyncio.create_task(pipeline.start(IDEA))
    await wait_until(lambda: renderer.in_flight == 3)
    [run_id] = pipeline.active_runs
    assert pipeline.detach(run_id)
    run = await asyncio.wait_for(task, 5)

    assert run.status is RunStatus.RUNNING
    assert sorted(renderer.kept) == ["s01-01", "s01-02", "s01-03"]  # jobs left running
    assert renderer.cancelled == []
    stored = await history.get_run(run_id)
    assert stored.status is RunStatus.RUNNING
    assert [(s.status, s.job_id) for s in stored.shots[:3]] == [
        (ShotStatus.RENDERING, f"job-s01-0{i}-1") for i in (1, 2, 3)]
    assert {s.status for s in stored.shots[3:]} == {ShotStatus.QUEUED}
    assert isinstance(rec.events[-1], ev.RunDetached)
    assert [r.run_id for r in await history.find_unfinished()] == [run_id]

    later = ScriptedRenderer()
    fresh, _ = make(renderer=later, history=history)
    finished = await fresh.resume(run_id)
    assert finished.status is RunStatus.COMPLETED
    assert sorted(later.resumed) == [(f"s01-0{i}", f"job-s01-0{i}-1") for i in (1, 2, 3)]
    assert len(later.calls) == 8


async def test_the_gpu_budget_stops_new_shots_and_ends_the_run_partial_with_the_reason():
    history = MemoryHistory()
    renderer = ScriptedRenderer()  # every shot costs 0.5 GPU s
    pipeline, _ = make(PlannedWriter(scenes=3, shots_per_scene=4), renderer, concurrency=1,
                       history=history)
    run = await pipeline.start(IDEA, RunOptions(budget_gpu_s=2.0))

    assert len(renderer.calls) == 4  # 4 x 0.5 s spent, then nothing new was submitted
    assert run.status is RunStatus.PARTIAL
    assert run.gpu_seconds == 2.0
    assert run.error == ("stopped at the GPU budget: 2 of 2 GPU seconds spent, "
                         "8 shots not rendered")
    left = [s for s in run.shots if s.status is ShotStatus.CANCELLED]
    assert len(left) == 8
    assert all(s.error == "not rendered: the run's GPU budget was spent" for s in left)
    stored = await history.get_run(run.run_id)
    assert (stored.status, stored.error, stored.budget_gpu_s) == (run.status, run.error, 2.0)
