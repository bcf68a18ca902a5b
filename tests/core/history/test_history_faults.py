"""History that fails: at start (a clear reason, and runs still work) and mid-run
(writes kept in order while the server is away, written when it is back)."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from pydantic import SecretStr
from pymongo.errors import OperationFailure

from app.core.errors import HistoryError
from app.core.history import HistoryStore
from app.core.history.factory import (
    UnavailableHistory,
    history_journal,
    open_embedded,
    open_history,
    open_mongodb,
)
from app.core.history.journal import read_entries
from app.core.history.mongo import MongoHistory
from app.core.history.writes import Backoff
from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus, ShotStatus
from app.core.pipeline import Pipeline
from app.core.settings import Settings
from tests.core.doubles import PlannedWriter, ScriptedRenderer
from tests.core.history.conftest import PyMongoAsyncShim
from tests.core.history.test_history_contract import make_run, make_shot
from tests.core.history.test_history_embedded import history_servers

PASSWORD = "pa55-w0rd-xyz"
FAST = Backoff(base_s=0.02, cap_s=0.2)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_uri() -> tuple[str, int]:
    port = closed_port()
    return f"mongodb://storyreel:{PASSWORD}@127.0.0.1:{port}/?directConnection=true", port


async def test_an_unreachable_mongodb_at_start_is_a_clear_error_without_the_password():
    uri, port = unreachable_uri()

    with pytest.raises(HistoryError) as caught:
        await open_mongodb(uri, timeout_s=0.3)

    message = str(caught.value)
    assert f"MongoDB 127.0.0.1:{port} did not answer within 0.3 s" in message
    assert PASSWORD not in message and "storyreel:" not in message


async def test_a_malformed_uri_is_a_clear_error_without_the_password():
    with pytest.raises(HistoryError, match="MONGODB_URI cannot be used") as caught:
        await open_mongodb(f"mongodb://storyreel:{PASSWORD}@127.0.0.1:notaport/", timeout_s=0.3)

    assert PASSWORD not in str(caught.value)


async def test_with_mongodb_unreachable_runs_still_complete_and_history_says_why(tmp_path, caplog):
    uri, port = unreachable_uri()
    settings = Settings(home=tmp_path, mongodb_uri=SecretStr(uri))

    with caplog.at_level(logging.WARNING):
        history = await open_history(settings, timeout_s=0.3)
        run = await Pipeline(PlannedWriter(2, 2), ScriptedRenderer(), history).start(
            from_text("A keeper and a door."))

    assert isinstance(history, UnavailableHistory) and isinstance(history, HistoryStore)
    assert run.status is RunStatus.COMPLETED and run.shots_done == 4
    with pytest.raises(HistoryError, match=rf"unavailable: .*127\.0\.0\.1:{port}"):
        await history.list_runs()
    with pytest.raises(HistoryError, match="unavailable"):
        await history.get_run(run.run_id)
    assert PASSWORD not in caplog.text
    # Said once when history was opened and once when the first change was dropped.
    assert caplog.text.count("did not answer") == 2
    with pytest.raises(HistoryError, match="did not answer"):
        await open_history(settings, timeout_s=0.3, strict=True)


async def test_with_the_embedded_server_unable_to_start_runs_still_complete(tmp_path):
    (tmp_path / "db").write_text("a file where the database folder should be")

    history = await open_history(Settings(home=tmp_path))
    run = await Pipeline(PlannedWriter(1, 2), ScriptedRenderer(), history).start(
        from_text("A keeper and a door."))

    assert run.status is RunStatus.COMPLETED
    with pytest.raises(HistoryError, match="cannot create the history folder"):
        await history.count_runs()
    assert history_servers() == []


async def test_writes_made_while_the_server_is_down_are_written_in_order_when_it_is_back(tmp_path):
    store = await open_embedded(tmp_path / "db", timeout_s=0.3, backoff=FAST)
    try:
        run = make_run(1)
        await store.create_run(run)
        shots = [make_shot(run, 1, i) for i in (1, 2, 3)]
        for shot in shots:
            await store.upsert_shot(shot)

        await store.server.astop()
        for n, shot in enumerate(shots, 1):  # each shot changes three times, in order
            shot.status, shot.attempts = ShotStatus.RENDERING, 1
            await store.upsert_shot(shot)
            shot.job_id = f"job-{n}"
            await store.upsert_shot(shot)
            shot.status = ShotStatus.DONE
            await store.upsert_shot(shot)
            await store.update_run(run.run_id, {"shots_done": n})
        await store.update_run(run.run_id, {"status": "completed", "stage": "done"})

        assert store.pending_writes == 13
        with pytest.raises(HistoryError, match="13 change"):
            await store.get_run(run.run_id)

        await store.server.astart()
        got = await store.get_run(run.run_id)  # a read waits for the kept changes
    finally:
        await store.aclose()

    assert store.pending_writes == 0
    assert (got.status, got.shots_done) == (RunStatus.COMPLETED, 3)
    assert [(s.status, s.job_id) for s in got.shots] == [
        (ShotStatus.DONE, "job-1"), (ShotStatus.DONE, "job-2"), (ShotStatus.DONE, "job-3")]


class OutageRenderer(ScriptedRenderer):
    """Stops the history server when one shot starts and starts it again at another."""

    def __init__(self, server, *, stop_at: str, start_at: str) -> None:
        super().__init__()
        self.server, self.stop_at, self.start_at = server, stop_at, start_at

    async def render_shot(self, request):
        if request.shot.shot_id == self.stop_at:
            await self.server.astop()
        if request.shot.shot_id == self.start_at:
            await self.server.astart()
        return await super().render_shot(request)


async def test_a_run_goes_on_through_a_history_outage_and_nothing_is_lost(tmp_path):
    store = await open_embedded(tmp_path / "db", timeout_s=0.3, backoff=FAST)
    renderer = OutageRenderer(store.server, stop_at="s01-02", start_at="s02-03")
    try:
        run = await Pipeline(PlannedWriter(2, 3), renderer, store, concurrency=1).start(
            from_text("A keeper and a door."), RunOptions(seed=7))
        await asyncio.sleep(0)
        kept = await store.get_run(run.run_id)
    finally:
        await store.aclose()

    assert run.status is RunStatus.COMPLETED
    assert store.writes.written_late > 5  # the outage was real: changes waited for it
    assert (kept.status, kept.shots_done, kept.shot_count) == (RunStatus.COMPLETED, 6, 6)
    assert [(s.shot_id, s.status, s.job_id) for s in kept.shots] == [
        (s.shot_id, ShotStatus.DONE, f"job-{s.shot_id}-1") for s in run.shots]
    assert kept.finished_at is not None and kept.gpu_seconds == 3.0
    assert history_servers() == []


async def test_closing_while_the_server_is_away_ends_promptly_and_says_what_was_lost(
        tmp_path, caplog):
    store = await open_embedded(tmp_path / "db", timeout_s=0.3, backoff=FAST)
    run = make_run(1)
    await store.create_run(run)
    await store.server.astop()
    await store.update_run(run.run_id, {"title": "never written"})

    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(store.aclose(), 5.0)

    assert "1 change(s) could not be written" in caplog.text
    assert history_servers() == []


async def test_a_run_whose_server_stays_away_says_so_and_leaves_its_changes_in_the_journal(
        tmp_path):
    settings = Settings(home=tmp_path)
    store = await open_embedded(settings.db_dir, timeout_s=0.3, backoff=FAST,
                                journal=history_journal(settings))
    renderer = OutageRenderer(store.server, stop_at="s01-02", start_at="never")
    try:
        await store.check_writable()  # the server answers: a paid run may start
        run = await Pipeline(PlannedWriter(1, 3), renderer, store, concurrency=1).start(
            from_text("A keeper and a door."), RunOptions(seed=7))
        problem = await store.unrecorded()
        pending = store.pending_writes
        with pytest.raises(HistoryError, match="write to history"):
            await store.check_writable()
    finally:
        await store.aclose()

    assert run.status is RunStatus.COMPLETED
    journal = store.writes.journal.leftovers()
    assert len(journal) == 1 and journal[0].parent == tmp_path / "journal"
    # Each change pending is in the journal; a shot's changes coalesced into one pending
    # write may each have a line of their own there (replayed in order, the last wins).
    assert pending > 5 and len(read_entries(journal[0])) >= pending
    assert problem == (f"{pending} change(s) "
                       f"could not be written to the embedded history server; they are kept "
                       f"in {journal[0]} and written when history is next opened")
    assert history_servers() == []

    again = await open_history(settings)  # the server is back: the journal is written
    try:
        kept = await again.get_run(run.run_id)
        assert await again.unrecorded() is None
    finally:
        await again.aclose()
    assert (kept.status, kept.shots_done) == (RunStatus.COMPLETED, 3)
    assert not journal[0].exists()


async def test_unavailable_history_refuses_a_paid_run_and_says_a_run_was_not_kept(tmp_path):
    (tmp_path / "db").write_text("a file where the database folder should be")
    history = await open_history(Settings(home=tmp_path))

    with pytest.raises(HistoryError, match="cannot create the history folder"):
        await history.check_writable()
    assert await history.unrecorded() is None  # nothing was dropped yet
    await Pipeline(PlannedWriter(1, 1), ScriptedRenderer(), history).start(from_text("A door."))
    said = await history.unrecorded()
    assert said == (f"history is unavailable, {history.dropped} change(s) were not kept: "
                    f"{history.reason}")
    assert history.dropped > 0 and "cannot create the history folder" in said


class ReadOnlyDisk:
    """mongomock behind the store, refusing every write once ``full`` (as a server answers
    on a read-only database file or a full disk: a refusal, not a lost connection)."""

    def __init__(self) -> None:
        self.shim, self.full = PyMongoAsyncShim(), False

    def __getitem__(self, name: str):
        database, disk = self.shim[name], self

        class Database:
            def __getitem__(self, collection: str):
                inner = database[collection]

                class Collection:
                    def __getattr__(self, attr: str):
                        return getattr(inner, attr)

                    async def replace_one(self, *args, **kwargs):
                        if disk.full:
                            raise OperationFailure("database or disk is full", code=14031)
                        return await inner.replace_one(*args, **kwargs)

                return Collection()

            def __getattr__(self, attr: str):
                return self[attr] if attr != "command" else database.command

        return Database()

    @property
    def admin(self):
        return self.shim.admin

    async def close(self) -> None:
        await self.shim.close()


async def test_writes_the_server_refuses_mid_run_are_said_not_silently_dropped():
    disk = ReadOnlyDisk()
    store = MongoHistory(disk, where="mongomock")
    await store.start()

    class FillsTheDisk(ScriptedRenderer):
        async def render_shot(self, request):
            disk.full = request.shot.shot_id == "s01-02" or disk.full
            return await super().render_shot(request)

    run = await Pipeline(PlannedWriter(1, 2), FillsTheDisk(), store, concurrency=1).start(
        from_text("A keeper and a door."))
    said = await store.unrecorded()
    await store.aclose()

    assert run.status is RunStatus.COMPLETED  # the run went on ...
    assert said is not None and said.startswith(f"{store.refused} change(s) to history were "
                                                 "refused: cannot write ")  # ... but says so
    assert "database or disk is full" in said and store.refused >= 2
