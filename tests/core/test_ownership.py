"""One owner per run: the decisions, the heartbeat, the pipeline's use of them, and two
"machines" (two pipelines with their own machine ids) on one database."""

from __future__ import annotations

import asyncio
import re
import stat
import time
from typing import Any

import pytest

from app.core import events as ev
from app.core.errors import HistoryError
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import Run, RunOwner, RunStatus, ShotStatus
from app.core.ownership import (
    Identity,
    Leases,
    RunBusy,
    Standing,
    busy_message,
    machine_id,
    now_ms,
    split_unfinished,
    standing,
)
from app.core.pipeline import Pipeline, RetryPolicy
from tests.core.doubles import PlannedWriter, ScriptedRenderer, wait_until
from tests.core.history.conftest import open_backend

IDEA = from_text("A lighthouse keeper keeps the light burning through a storm.")
ME = Identity(machine="laptop/aaa", host="laptop", pid=100, token="tok-me")
THEM = Identity(machine="desktop/bbb", host="desktop", pid=1234, token="tok-them")
NOW = 1_800_000_000_000


def alive(pid: int) -> bool:
    return True


def dead(pid: int) -> bool:
    return False


# The decisions.


def test_a_run_is_free_ours_stale_or_live():
    fresh = THEM.owner(NOW - 2_000)
    assert standing(None, ME, NOW) is Standing.FREE
    assert standing(ME.owner(NOW - 60_000), ME, NOW) is Standing.OURS
    assert standing(fresh, ME, NOW, alive=alive) is Standing.LIVE
    assert standing(THEM.owner(NOW - 16_000), ME, NOW, alive=alive) is Standing.STALE
    # a fresh heartbeat from another machine: its process ids mean nothing here
    assert standing(fresh, ME, NOW, alive=dead) is Standing.LIVE


def test_a_process_of_this_machine_that_is_gone_is_stale_at_once():
    sibling = Identity(machine=ME.machine, host=ME.host, pid=555, token="tok-sibling")
    assert standing(sibling.owner(NOW - 1_000), ME, NOW, alive=dead) is Standing.STALE
    assert standing(sibling.owner(NOW - 1_000), ME, NOW, alive=alive) is Standing.LIVE
    assert standing(sibling.owner(NOW - 1_000), ME, NOW,
                    alive=lambda pid: None) is Standing.LIVE  # cannot tell: wait for it


def test_the_refusal_names_the_owner():
    message = busy_message("20261202-101010-abcdef", THEM.owner(NOW - 2_000), NOW)
    assert message == ("run 20261202-101010-abcdef is being rendered by process 1234 on host "
                       "desktop (heartbeat 2 s ago); leaving it alone")


def test_unfinished_runs_split_into_ours_to_resume_and_theirs():
    runs = [Run(run_id="a", idea="x"), Run(run_id="b", idea="x", owner=THEM.owner(NOW)),
            Run(run_id="c", idea="x", owner=THEM.owner(NOW - 60_000))]
    free, busy = split_unfinished(runs, ME, NOW, alive=alive)
    assert ([r.run_id for r in free], [r.run_id for r in busy]) == (["a", "c"], ["b"])


def test_the_machine_id_is_made_once_privately_and_kept(tmp_path):
    first = machine_id(tmp_path)
    assert first == machine_id(tmp_path) and len(first) == 12
    assert stat.S_IMODE((tmp_path / "machine-id").stat().st_mode) == 0o600
    assert machine_id(tmp_path / "elsewhere") != first


def test_the_machine_id_falls_back_when_the_folder_cannot_hold_it(tmp_path):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    home = not_a_folder / "home"  # cannot be created: its parent is a file

    assert machine_id(home) == machine_id(home)  # stable, without a file
    assert machine_id(home) != machine_id(tmp_path)


# Holding a run.


async def test_a_held_run_is_refused_to_another_owner_until_released():
    history = MemoryHistory()
    await history.create_run(Run(run_id="r1", idea="x"))
    mine, theirs = Leases(history, ME, interval_s=30), Leases(history, THEM, interval_s=30)

    taken = await mine.acquire("r1")
    assert taken.message is None and mine.held == ["r1"]
    with pytest.raises(RunBusy, match="run r1 is being rendered by process 100 on host laptop"):
        await theirs.acquire("r1")
    assert (await history.run_owner("r1")).token == ME.token

    await mine.release("r1")
    assert await history.run_owner("r1") is None
    assert (await theirs.acquire("r1")).message is None
    await theirs.aclose()
    assert await history.run_owner("r1") is None


async def test_the_heartbeat_renews_the_owner_while_it_holds_the_run():
    history = MemoryHistory()
    await history.create_run(Run(run_id="r1", idea="x"))
    clock = iter(range(NOW, NOW + 10**9, 1_000))
    leases = Leases(history, ME, interval_s=0.01, clock=lambda: next(clock))
    await leases.acquire("r1")
    first = await history.run_owner("r1")

    await wait_until(lambda: leases.beats >= 3)
    later = await history.run_owner("r1")

    assert later.token == first.token and later.heartbeat_ms > first.heartbeat_ms
    assert later.expires_ms == later.heartbeat_ms + 30  # three beats of 10 ms
    await leases.release("r1")
    beats = leases.beats
    await asyncio.sleep(0.05)
    assert leases.beats == beats  # nothing held: no more writes


async def test_a_stale_owner_is_taken_over_and_learns_it_at_its_next_heartbeat():
    history = MemoryHistory()
    await history.create_run(Run(run_id="r1", idea="x"))
    lost: list[str] = []
    theirs = Leases(history, THEM, interval_s=0.01, on_lost=lost.append,
                    clock=lambda: NOW - 60_000)  # its heartbeats are a minute old
    await theirs.acquire("r1")
    mine = Leases(history, ME, interval_s=30, clock=lambda: NOW)

    taken = await mine.acquire("r1")

    assert taken.previous is not None and taken.previous.token == THEM.token
    assert taken.message == ("run r1: taking it over from process 1234 on host desktop, "
                             "which stopped (last heartbeat 60 s ago)")
    await wait_until(lambda: lost == ["r1"])
    assert theirs.held == []
    assert (await history.run_owner("r1")).token == ME.token
    await mine.aclose()


async def test_a_frozen_owner_checks_before_it_pays_and_gives_the_run_up():
    history = MemoryHistory()
    await history.create_run(Run(run_id="r1", idea="x"))
    lost: list[str] = []
    mine = Leases(history, ME, interval_s=0.05, on_lost=lost.append)
    await mine.acquire("r1")
    assert await mine.confirm("r1") is True  # heartbeat keeping up: no write needed
    writes = history.writes
    assert await mine.confirm("r1") is True and history.writes == writes

    time.sleep(0.3)  # noqa: ASYNC251 - the whole process freezes (as SIGSTOP): no heartbeat
    # Another machine sees the heartbeat run out and takes the run, before ours wakes up
    # (the memory store answers without yielding to the event loop).
    theirs = Leases(history, THEM, interval_s=30)
    assert (await theirs.acquire("r1")).message is not None

    # Ours wakes: before its next paid job it finds out, and stops.
    assert await mine.confirm("r1") is False
    assert lost == ["r1"] and mine.held == []
    assert (await history.run_owner("r1")).token == THEM.token
    await theirs.aclose()


# The pipeline.


def make(history, identity=ME, renderer=None, *, heartbeat_s=30.0) -> Pipeline:
    return Pipeline(PlannedWriter(scenes=2, shots_per_scene=3), renderer or ScriptedRenderer(),
                    history, concurrency=1, retry=RetryPolicy(max_attempts=1),
                    identity=identity, heartbeat_s=heartbeat_s)


async def held_by_them(history) -> Run:
    """A finished run with a stale shot and an earlier version, now held by THEM."""
    run = await make(history).start(IDEA)
    await make(history).regenerate(run.run_id, "s01-01")
    await make(history).edit_character(run.run_id, "MARA", "a yellow raincoat")
    await history.update_run(run.run_id, {"status": "running"})
    assert await history.claim_run(run.run_id, THEM.owner(now_ms()), previous=None)
    return await history.get_run(run.run_id)


@pytest.mark.parametrize("work", [
    lambda p, rid: p.resume(rid),
    lambda p, rid: p.retry(rid),
    lambda p, rid: p.retry(rid, ["s01-02"]),
    lambda p, rid: p.regenerate(rid, "s01-02"),
    lambda p, rid: p.regenerate_stale(rid),
    lambda p, rid: p.edit_character(rid, "MARA", "a red coat"),
    lambda p, rid: p.edit_scene(rid, 1, summary="Night falls."),
    lambda p, rid: p.pick_version(rid, "s01-01", 1),
], ids=["resume", "retry", "retry-shot", "regenerate", "regenerate-stale", "edit-character",
        "edit-scene", "pick"])
async def test_no_work_is_done_on_a_run_another_live_process_holds(work):
    history = MemoryHistory()
    run = await held_by_them(history)
    renderer = ScriptedRenderer()
    pipeline = make(history, renderer=renderer)
    writes = history.writes

    with pytest.raises(RunBusy) as refused:
        await work(pipeline, run.run_id)

    assert re.fullmatch(rf"run {run.run_id} is being rendered by process 1234 on host "
                        r"desktop \(heartbeat \d+ s ago\); leaving it alone", str(refused.value))
    assert renderer.calls == [] and history.writes == writes
    assert (await history.get_run(run.run_id)).model_dump() == run.model_dump()
    assert pipeline.leases.held == []


async def test_a_run_is_held_while_it_works_and_released_when_it_ends():
    history = MemoryHistory()
    gate = asyncio.Event()
    pipeline = make(history, renderer=ScriptedRenderer(gates={"s01-02": gate}))
    task = asyncio.create_task(pipeline.start(IDEA))
    await wait_until(lambda: bool(pipeline.active_runs))
    [run_id] = pipeline.active_runs

    owner = await history.run_owner(run_id)
    assert (owner.machine, owner.pid, owner.token) == (ME.machine, ME.pid, ME.token)
    gate.set()
    run = await task

    assert run.status is RunStatus.COMPLETED
    assert await history.run_owner(run_id) is None
    assert pipeline.leases.held == []


async def test_a_cancelled_or_failed_piece_of_work_lets_the_run_go():
    history = MemoryHistory()
    run = await make(history).start(IDEA)
    pipeline = make(history)
    with pytest.raises(KeyError):
        await pipeline.regenerate(run.run_id, "s09-09")
    assert await history.run_owner(run.run_id) is None
    assert pipeline.leases.held == []


# Two machines on one database.


class Cut:
    """A store whose heartbeats stop reaching the database (the machine was suspended, or
    lost its network) while everything else goes through."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.cut = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def renew_run_owner(self, run_id: str, owner: RunOwner) -> bool:
        if self.cut:
            raise HistoryError("cannot reach the database")
        return await self._store.renew_run_owner(run_id, owner)


@pytest.mark.parametrize("backend", ["mongomock", "embedded"])
async def test_two_machines_on_one_database_never_render_the_same_shot(backend, tmp_path):
    first = await open_backend(backend, tmp_path)
    second_store = await first.twin()
    try:
        a_store = Cut(first.store)
        gate = asyncio.Event()  # machine A gets stuck on its fourth shot
        a_renderer = ScriptedRenderer(gates={"s02-01": gate})
        a = make(a_store, ME, a_renderer, heartbeat_s=0.1)
        b_renderer = ScriptedRenderer()
        b = make(second_store, THEM, b_renderer, heartbeat_s=0.1)
        seen: list[ev.Event] = []
        b.subscribe(seen.append)

        a_task = asyncio.create_task(a.start(IDEA))
        await wait_until(lambda: len(a_renderer.calls) == 4, limit_s=20)
        [run_id] = a.active_runs
        await wait_until(lambda: a.leases.beats >= 1, limit_s=20)  # A is heartbeating

        with pytest.raises(RunBusy, match=rf"run {run_id} is being rendered by process 100 on "
                                          r"host laptop \(heartbeat \d+ s ago\); leaving it "):
            await b.resume(run_id)
        assert b_renderer.calls == []

        a_store.cut = True  # A's heartbeat stops; its owner record goes stale
        async with asyncio.timeout(20):
            while (await second_store.run_owner(run_id)).expires_ms >= now_ms():  # noqa: ASYNC110
                await asyncio.sleep(0.05)

        resumed = await b.resume(run_id)

        assert resumed.status is RunStatus.COMPLETED and resumed.shots_done == 6
        [taken] = [e for e in seen if isinstance(e, ev.RunTakenOver)]
        assert taken.message.startswith(f"run {run_id}: taking it over from process 100 on "
                                        "host laptop, which stopped")
        # A's network comes back: its next heartbeat finds B's owner and A stops, writing
        # nothing more, so B's record of the run stands.
        a_store.cut = False
        a_run = await asyncio.wait_for(a_task, 20)
        assert a_run.status is RunStatus.RUNNING  # detached, not "cancelled"
        stored = await second_store.get_run(run_id)
        assert stored.status is RunStatus.COMPLETED and stored.owner is None
        assert {s.status for s in stored.shots} == {ShotStatus.DONE}
        a_done, b_done = set(a_renderer.finished), set(b_renderer.finished)
        assert len(a_done) == 3 and not a_done & b_done  # no shot drawn twice
        assert a_done | b_done == {s.shot_id for s in stored.shots}
        assert "s02-01" not in a_done  # stuck when B took over: B drew it
    finally:
        await second_store.aclose()
        await first.aclose()
