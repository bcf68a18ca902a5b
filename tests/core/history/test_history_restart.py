"""Issue 14, item 4 (the embedded part): when the embedded server process dies mid-run
it is started again on the same address and the changes held meanwhile are written, so
history shows the run as it ended (not ``running 0/N``, which ``resume`` would render,
and pay for, again)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import pytest

from app.core.history.factory import open_embedded
from app.core.history.writes import Backoff
from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus, ShotStatus
from app.core.pipeline import Pipeline
from tests.core.doubles import PlannedWriter, ScriptedRenderer
from tests.core.history.test_history_contract import make_run, make_shot
from tests.core.history.test_history_embedded import gone, history_servers

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

FAST = Backoff(base_s=0.02, cap_s=0.2)


async def eventually(check, what: str, *, within_s: float = 60.0) -> None:
    """A generous bound, so a loaded machine does not fail the test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not check():
        assert loop.time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


def kill(pid: int | None) -> None:
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


async def test_a_killed_server_is_started_again_on_the_same_address(tmp_path):
    store = await open_embedded(tmp_path / "db", timeout_s=0.5, backoff=FAST)
    try:
        run = make_run(1)
        await store.create_run(run)
        uri, first = store.server.uri, store.server.pid

        kill(first)
        await eventually(lambda: store.restarts == 1, "the server to be started again")

        assert store.server.uri == uri and store.server.pid not in (None, first)
        await store.upsert_shot(make_shot(run, 1, 1))
        got = await store.get_run(run.run_id)
    finally:
        await store.aclose()

    assert first is not None and gone(first)
    assert [s.shot_id for s in got.shots] == ["s01-01"]
    assert history_servers() == []


async def test_changes_held_while_it_was_dead_are_written(tmp_path):
    store = await open_embedded(tmp_path / "db", timeout_s=0.5, backoff=FAST,
                                watch_s=3600.0)  # nobody looks: the writes find it dead
    try:
        run = make_run(1)
        await store.create_run(run)
        kill(store.server.pid)
        await eventually(lambda: not store.server.running, "the server to die")

        for n in (1, 2, 3):
            shot = make_shot(run, 1, n)
            shot.status = ShotStatus.DONE
            await store.upsert_shot(shot)
        await store.update_run(run.run_id, {"status": "completed", "shots_done": 3})
        assert store.pending_writes == 4
    finally:
        await store.aclose()  # starts it again first, then writes what it holds

    assert store.restarts == 1 and store.writes.written_late == 4
    again = await open_embedded(tmp_path / "db")
    try:
        got = await again.get_run(run.run_id)
    finally:
        await again.aclose()
    assert (got.status, got.shots_done) == (RunStatus.COMPLETED, 3)
    assert [s.status for s in got.shots] == [ShotStatus.DONE] * 3


class KillingRenderer(ScriptedRenderer):
    """Kills the history server (SIGKILL, as the OOM killer would) when one shot starts."""

    def __init__(self, store, *, kill_at: str) -> None:
        super().__init__()
        self.store, self.kill_at, self.killed = store, kill_at, None

    async def render_shot(self, request):
        if request.shot.shot_id == self.kill_at:
            self.killed = self.store.server.pid
            kill(self.killed)
        return await super().render_shot(request)


async def test_a_run_whose_server_is_killed_ends_with_every_shot_in_history(tmp_path, caplog):
    store = await open_embedded(tmp_path / "db", timeout_s=0.5, backoff=FAST)
    renderer = KillingRenderer(store, kill_at="s01-02")
    with caplog.at_level(logging.WARNING):
        try:
            run = await Pipeline(PlannedWriter(2, 3), renderer, store, concurrency=1).start(
                from_text("A keeper and a door."), RunOptions(seed=7))
        finally:
            await store.aclose()

    assert run.status is RunStatus.COMPLETED and renderer.killed is not None
    assert store.restarts >= 1 and store.writes.dropped == 0
    assert "could not be written" not in caplog.text
    assert store.writes.written_late > 0  # changes really waited for the new server
    again = await open_embedded(tmp_path / "db")  # the next process, as `resume` would
    try:
        kept = await again.get_run(run.run_id)
        unfinished = await again.find_unfinished()
    finally:
        await again.aclose()
    assert (kept.status, kept.shots_done, kept.shot_count) == (RunStatus.COMPLETED, 6, 6)
    assert [(s.shot_id, s.status, s.job_id) for s in kept.shots] == [
        (s.shot_id, ShotStatus.DONE, f"job-{s.shot_id}-1") for s in run.shots]
    assert kept.finished_at is not None and unfinished == []
    assert history_servers() == []
