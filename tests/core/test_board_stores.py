"""Board edits through ``pipeline.board``: written at once to every kind of history (memory,
mongomock, the embedded server), loadable after a kill mid-renumber, held and refused like
the other edits, and kept by regenerate, resume and retry."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from pathlib import Path

import pytest

from app.core import board
from app.core import events as ev
from app.core.errors import HistoryError
from app.core.history.factory import open_history
from app.core.history.memory import MemoryHistory
from app.core.models import RunOptions, RunStatus, ShotStatus
from app.core.ownership import Identity, RunBusy, now_ms
from app.core.pipeline import Pipeline, RetryPolicy
from app.core.revisions import EditError
from app.core.settings import Settings
from tests.conftest import REPO
from tests.core.doubles import ScriptedRenderer, wait_until
from tests.core.history.conftest import open_backend
from tests.core.history.test_history_contract import make_run
from tests.core.test_revisions import IDEA, CastWriter

THEM = Identity(machine="desktop/bbb", host="desktop", pid=1234, token="tok-them")
STORES = ["memory", "mongomock", "embedded"]


def make(history, renderer=None) -> Pipeline:
    return Pipeline(CastWriter(), renderer or ScriptedRenderer(), history, concurrency=2,
                    retry=RetryPolicy(max_attempts=1), rng=random.Random(3))


@pytest.fixture(params=STORES)
async def backend(request, tmp_path):
    opened = await open_backend(request.param, tmp_path)
    try:
        yield opened
    finally:
        await opened.aclose()


async def reopened(backend):
    """The history as another process sees it (a second store on the same database)."""
    return backend.store if backend.twin is None else await backend.twin()


def layout(run):
    return [(s.shot_id, s.scene, s.index, s.number) for s in run.shots]


async def test_every_edit_is_written_at_once_and_loads_back_in_board_order(backend):
    history = backend.store
    pipeline = make(history)
    run = await pipeline.start(IDEA, RunOptions(seed=5))
    edits = pipeline.board

    added = await edits.add_shot(run.run_id, after="s01-01", text="Mara at the rail.",
                                 framing="MCU", dialogue="Hold fast!", duration_s=3)
    new = added.shot_id
    await edits.move_shot(run.run_id, "s02-02", scene=1)
    await edits.set_shot(run.run_id, "s01-03", description="Theo slips on the rocks",
                         note="sound: surf")
    copy = (await edits.duplicate_shot(run.run_id, new)).shot_id
    deleted = await edits.delete_shot(run.run_id, "s01-04")
    final = await edits.set_aspect(run.run_id, "9:16")

    assert deleted.removed == ["s01-04"]
    expected = [("s02-02", 1, 1, "1A"), ("s01-01", 1, 2, "1B"), (new, 1, 3, "1C"),
                (copy, 1, 4, "1D"), ("s01-02", 1, 5, "1E"), ("s01-03", 1, 6, "1F"),
                ("s02-01", 2, 1, "2A")]
    assert layout(final.run) == expected
    other = await reopened(backend)
    try:
        stored = await other.get_run(run.run_id)
    finally:
        if other is not history:
            await other.aclose()
    assert layout(stored) == expected
    assert (stored.aspect, stored.width, stored.height) == ("9:16", 576, 1024)
    assert stored.shot_count == 7 and stored.shots_done == 5
    assert "Theo slips on the rocks" in stored.shot("s01-03").next_prompt
    assert stored.shot("s01-03").note == "sound: surf"
    assert (stored.shot(new).dialogue, stored.shot(new).duration_s) == ("Hold fast!", 3.0)
    assert stored.shot("s02-02").stale == "moved from scene 2 to scene 1"  # stale already
    assert stored.shot("s01-01").stale == "the frame changed to 9:16"
    assert {s.shot_id for s in stored.shots if s.stale} == {s.shot_id for s in stored.shots}
    with pytest.raises(KeyError):
        stored.shot("s01-04")


@pytest.mark.parametrize("edit", ["move", "add", "delete", "restore"])
async def test_a_process_killed_mid_renumber_leaves_a_board_that_loads_every_shot_once(
        backend, edit):
    history = backend.store
    run = await make(history).start(IDEA, RunOptions(seed=5))
    gone = run.shot("s01-02")
    if edit == "restore":
        await make(history).board.delete_shot(run.run_id, "s01-02")
    loaded = await history.get_run(run.run_id)
    before = {s.shot_id for s in loaded.shots}
    change = {
        "move": lambda r: board.move_shot(r, "s02-02", after="s01-01"),
        "add": lambda r: board.add_shot(r, scene=1, text="A gull over the rock."),
        "delete": lambda r: board.delete_shot(r, "s01-01"),
        "restore": lambda r: board.restore_shot(r, gone),
    }[edit](loaded)
    after = {s.shot_id for s in loaded.shots}
    assert len(change.saved) >= 2  # a renumber of several shots
    for written in range(len(change.saved) + 1):  # killed after this many writes
        for shot_id in change.removed:
            await history.delete_shot(run.run_id, shot_id)
        for shot in change.saved[:written]:
            await history.upsert_shot(shot)
        stored = await history.get_run(run.run_id)
        ids = [s.shot_id for s in stored.shots]
        assert len(ids) == len(set(ids))
        assert before & after <= set(ids) <= before | after  # no shot lost, none twice
        numbers = [s.number for s in stored.shots]
        assert len(numbers) == len(set(numbers))  # each shot its own number, in order:
        assert [s.order for s in stored.shots] == sorted(s.order for s in stored.shots)
        assert [s.number for s in stored.shots] == [s.number for s in sorted(
            stored.shots, key=lambda s: (s.scene, s.number[len(str(s.scene)):]))]
    assert layout(await history.get_run(run.run_id)) == layout(loaded)  # all written


async def test_delete_shot_is_kept_in_order_behind_an_earlier_write_of_that_shot(backend):
    history = backend.store
    run = await make(history).start(IDEA, RunOptions(seed=5))
    shot = run.shot("s01-01")
    await history.upsert_shot(shot)
    await history.delete_shot(run.run_id, "s01-01")
    await history.delete_shot(run.run_id, "s01-01")  # again: harmless
    await history.delete_shot(run.run_id, "never-there")
    stored = await history.get_run(run.run_id)
    assert "s01-01" not in {s.shot_id for s in stored.shots} and len(stored.shots) == 5


async def test_an_edit_while_the_run_renders_is_refused_and_changes_nothing():
    history = MemoryHistory()
    gate = asyncio.Event()
    renderer = ScriptedRenderer(gates={"s02-02": gate})
    pipeline = make(history, renderer)
    task = asyncio.create_task(pipeline.start(IDEA, RunOptions(seed=5)))
    await wait_until(lambda: bool(pipeline.active_runs) and "s02-01" in renderer.finished)
    [run_id] = pipeline.active_runs
    before = layout(await history.get_run(run_id))
    for attempt in (lambda: pipeline.board.add_shot(run_id, scene=1, text="A gull."),
                    lambda: pipeline.board.move_shot(run_id, "s01-01", scene=2),
                    lambda: pipeline.board.delete_shot(run_id, "s01-01"),
                    lambda: pipeline.board.set_aspect(run_id, "1:1")):
        with pytest.raises(EditError, match="still working"):
            await attempt()
    assert layout(await history.get_run(run_id)) == before
    gate.set()
    run = await task
    assert run.status is RunStatus.COMPLETED
    assert run_id not in pipeline.leases.held  # every refused edit let the run go


async def test_an_edit_to_a_run_another_live_process_holds_is_refused():
    history = MemoryHistory()
    run = await make(history).start(IDEA, RunOptions(seed=5))
    assert await history.claim_run(run.run_id, THEM.owner(now_ms()), previous=None)
    with pytest.raises(RunBusy):
        await make(history).board.add_shot(run.run_id, scene=1, text="A gull.")
    assert len((await history.get_run(run.run_id)).shots) == 6


async def test_a_board_change_is_announced_with_the_board_as_saved():
    history = MemoryHistory()
    pipeline = make(history)
    run = await pipeline.start(IDEA, RunOptions(seed=5))
    heard: list[ev.Event] = []
    pipeline.subscribe(heard.append)
    edit = await pipeline.board.move_shot(run.run_id, "s01-04", scene=2)
    [event] = [e for e in heard if isinstance(e, ev.BoardChanged)]
    assert event.shot_id == "s01-04" and event.stale == ("s01-04",) and event.removed == ()
    assert layout(event.run) == layout(edit.run) == layout(await history.get_run(run.run_id))
    assert edit.stale == ["s01-04"] and edit.removed == []
    with pytest.raises(EditError):
        await pipeline.board.set_shot(run.run_id, "s01-04")
    assert len([e for e in heard if isinstance(e, ev.BoardChanged)]) == 1


async def test_regenerate_stale_draws_new_shots_and_new_frames_in_board_order():
    history = MemoryHistory()
    renderer = ScriptedRenderer()
    pipeline = make(history, renderer)
    run = await pipeline.start(IDEA, RunOptions(seed=5))
    new = (await pipeline.board.add_shot(run.run_id, after="s02-01", text="Spray.")).shot_id
    await pipeline.board.move_shot(run.run_id, "s01-01", after=new)
    await pipeline.board.set_shot(run.run_id, "s01-02", dialogue="Now!", note="loud")
    before = layout(await history.get_run(run.run_id))
    renderer.calls.clear()

    redrawn = await pipeline.regenerate_stale(run.run_id)
    assert {sid for sid, _ in renderer.calls} == {new, "s01-01"}  # not the dialogue edit
    assert layout(redrawn) == before == layout(await history.get_run(run.run_id))
    assert redrawn.status is RunStatus.COMPLETED
    assert not any(s.stale for s in redrawn.shots)
    assert redrawn.shot(new).image.key.endswith(f"/{new}/1.png")

    await pipeline.board.set_aspect(run.run_id, "2.39:1")
    renderer.calls.clear()
    redrawn = await pipeline.regenerate_stale(run.run_id)
    assert len(renderer.calls) == len(redrawn.shots)
    assert {(s.image.width, s.image.height) for s in redrawn.shots} == {(1024, 428)}


async def test_resume_and_retry_keep_the_artists_order_and_added_shots():
    history = MemoryHistory()
    renderer = ScriptedRenderer(fatal={"s01-03"})
    run = await make(history, renderer).start(IDEA, RunOptions(seed=5))
    assert run.status is RunStatus.PARTIAL
    pipeline = make(history, renderer)
    new = (await pipeline.board.add_shot(run.run_id, scene=2, text="Dawn.")).shot_id
    await pipeline.board.move_shot(run.run_id, "s01-03", after="s02-02")
    shaped = layout(await history.get_run(run.run_id))

    renderer.fatal.clear()
    retried = await make(history, renderer).retry(run.run_id)  # the failed shot only
    assert layout(retried) == shaped == layout(await history.get_run(run.run_id))
    assert retried.shot("s01-03").status is ShotStatus.DONE
    assert retried.shot(new).image is None and retried.shot(new).stale == board.NEW_SHOT

    await history.update_run(run.run_id, {"status": "running"})  # as a crash leaves it
    resumed = await make(history, renderer).resume(run.run_id)
    assert layout(resumed) == shaped == layout(await history.get_run(run.run_id))
    assert resumed.status is RunStatus.COMPLETED
    assert resumed.shot(new).image is not None and resumed.shot(new).stale is None


async def test_a_refused_write_is_an_error_not_a_silent_loss():
    class Refusing(MemoryHistory):
        async def delete_shot(self, run_id, shot_id):
            raise HistoryError("history is read-only")

    history = Refusing()
    run = await make(history).start(IDEA, RunOptions(seed=5))
    with pytest.raises(HistoryError):
        await make(history).board.delete_shot(run.run_id, "s01-01")
    assert len((await history.get_run(run.run_id)).shots) == 6


DELETER = """
import asyncio, os, sys
from pathlib import Path
from app.core.history.factory import open_history
from app.core.settings import Settings
from tests.core.history.test_history_contract import make_run, make_shot

async def main(home):
    store = await open_history(Settings(home=home))
    run = make_run(1)
    await store.create_run(run)
    for i in (1, 2, 3):
        await store.upsert_shot(make_shot(run, 1, i))
    await store.server.astop()  # the server goes away and stays away
    await store.delete_shot(run.run_id, "s01-02")
    later = make_shot(run, 1, 3)
    later.index, later.number = 2, "1B"
    await store.upsert_shot(later)
    assert store.pending_writes == 2, store.pending_writes
    print(store.writes.journal_path, flush=True)
    os._exit(0)  # gone, without closing anything

if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
"""


def test_a_shot_deleted_while_the_server_is_away_is_journalled_and_deleted_on_reopen(tmp_path):
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, "-c", DELETER, str(home)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    journal_path = Path(done.stdout.strip())
    assert '"op": "delete"' in journal_path.read_text()

    async def reopen():
        store = await open_history(Settings(home=home))  # replays the journal
        try:
            return await store.get_run(make_run(1).run_id)
        finally:
            await store.aclose()

    run = asyncio.run(reopen())
    assert [(s.shot_id, s.number) for s in run.shots] == [("s01-01", "1A"), ("s01-03", "1B")]
    assert not journal_path.exists()


async def test_a_deletion_is_undone_by_restoring_the_shot_it_returned(backend):
    history = backend.store
    pipeline = make(history)
    run = await pipeline.start(IDEA, RunOptions(seed=5))
    await pipeline.regenerate(run.run_id, "s01-02")  # an earlier version to keep
    before = await history.get_run(run.run_id)

    deleted = await pipeline.board.delete_shot(run.run_id, "s01-02")
    [gone] = deleted.removed_shots
    assert gone.shot_id == "s01-02" and len(gone.versions) == 1
    restored = await pipeline.board.restore_shot(run.run_id, gone)

    after = await history.get_run(run.run_id)
    assert layout(after) == layout(restored.run) == layout(before)
    back = after.shot("s01-02")
    assert (back.image, back.versions, back.seed, back.stale) == (
        before.shot("s01-02").image, before.shot("s01-02").versions,
        before.shot("s01-02").seed, None)
    assert after.shot_count == 6 and after.shots_done == 6


async def test_edits_sent_at_once_each_see_the_one_before():
    class Slow(MemoryHistory):  # a round trip per call, so that edits could interleave
        async def get_run(self, run_id):
            await asyncio.sleep(0.001)
            return await super().get_run(run_id)

        async def upsert_shot(self, shot, *, later=False):
            await asyncio.sleep(0.001)
            await super().upsert_shot(shot, later=later)

    history = Slow()
    pipeline = make(history)
    run = await pipeline.start(IDEA, RunOptions(seed=5))
    edits = await asyncio.gather(
        *(pipeline.board.add_shot(run.run_id, scene=1, text=f"Gull {n}.") for n in range(5)),
        pipeline.board.move_shot(run.run_id, "s02-02", scene=1))
    stored = await history.get_run(run.run_id)
    scene_1 = [s for s in stored.shots if s.scene == 1]
    assert [s.index for s in scene_1] == list(range(1, 11))  # no two with one number
    assert {e.shot_id for e in edits[:5]} <= {s.shot_id for s in scene_1}
    assert scene_1[0].shot_id == "s02-02"  # the last edit sent is the last applied
