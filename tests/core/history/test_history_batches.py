"""A run's fan-out writes its shots ``later`` (issue 16): coalesced and batched, yet every
document ends as the run left it, on every MongoDB-speaking backend, and another process
reading the database once the run has ended sees all of it."""

from __future__ import annotations

from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus, ShotStatus
from app.core.pipeline import Pipeline
from tests.core.doubles import PlannedWriter, ScriptedRenderer


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
