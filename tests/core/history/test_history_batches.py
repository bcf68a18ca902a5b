"""A run's fan-out writes its shots ``later`` (issue 16): coalesced and batched, yet every
document ends as the run left it, on every MongoDB-speaking backend, and another process
reading the database once the run has ended sees all of it."""

from __future__ import annotations

from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus, ShotStatus
from app.core.ownership import Identity
from app.core.pipeline import Pipeline
from tests.core.doubles import PlannedWriter, ScriptedRenderer
from tests.core.history.test_history_contract import make_run, make_shot


async def test_a_run_written_in_batches_ends_with_every_document_right(mongo):
    store = mongo.store
    renderer = ScriptedRenderer(latency=0.001, failures={"s01-02": 1, "s02-03": 9},
                                fatal={"s03-01"})
    renderer.announce_jobs = True  # job ids are written now, between the later changes
    pipeline = Pipeline(PlannedWriter(scenes=3, shots_per_scene=4), renderer, store,
                        concurrency=4)

    run = await pipeline.start(from_text("A lighthouse keeper and a door."),
                               RunOptions(seed=3))

    assert store.writes.batches > 0  # the later path was taken...
    other = await mongo.twin()  # ...and another process, reading now, sees the run as it ended
    try:
        stored = await other.get_run(run.run_id)
    finally:
        await other.aclose()
    assert run.status is RunStatus.PARTIAL
    assert (stored.status, stored.shots_done, stored.shots_failed, stored.gpu_seconds) == (
        run.status, 10, 2, run.gpu_seconds)
    assert [(s.shot_id, s.status, s.attempts, s.job_id, s.error) for s in stored.shots] == [
        (s.shot_id, s.status, s.attempts, s.job_id, s.error) for s in run.shots]
    assert {s.shot_id for s in stored.shots if s.status is ShotStatus.FAILED} == {
        "s02-03", "s03-01"}
    assert store.pending_writes == 0


async def test_a_batch_held_for_a_run_another_process_took_over_is_not_written(mongo):
    """A frozen process wakes with a batch waiting: the new owner's record stays."""
    store = mongo.store
    store.writes.batch_s = 3600  # held until a read sends it
    first, second = Identity.of_this_process(), Identity.of_this_process()
    run = make_run(1, owner=first.owner(1_000))
    await store.create_run(run)
    shot = make_shot(run, 1, 1, status=ShotStatus.RENDERING)
    await store.upsert_shot(shot)
    other = await mongo.twin()
    try:
        shot.status = ShotStatus.QUEUED  # what the frozen process held
        await store.upsert_shot(shot, later=True)
        assert await other.claim_run(run.run_id, second.owner(99_000), previous=run.owner)
        await other.upsert_shot(make_shot(run, 1, 1, status=ShotStatus.DONE))

        assert await store.writes.wait_flushed(5.0)  # the first process wakes

        assert [s.status for s in (await other.get_run(run.run_id)).shots] == [ShotStatus.DONE]
    finally:
        await other.aclose()
