"""The journal of kept writes: on disk before a write counts as kept, private to the user,
replayed in order by the next store on the same database, and robust to a torn last line."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from app.core.history.factory import history_journal, open_history
from app.core.history.journal import Journal, read_entries
from app.core.history.writes import Backoff, Change, OrderedWrites
from app.core.models import RunStatus, ShotStatus
from app.core.settings import Settings
from tests.conftest import REPO
from tests.core.history.test_history_contract import make_run, owner
from tests.core.history.test_history_embedded import history_servers

WHEN = datetime(2026, 12, 2, 17, 30, 1, 123000, tzinfo=UTC)


def change(n: int, key: str = "shot:r/1") -> Change:
    return Change(key, f"change {n}", "replace", "shots", {"_id": key},
                  {"_id": key, "n": n, "updated_at": WHEN, "note": {"$exists": "as data"}})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_journal_keeps_changes_as_data_in_a_private_file(tmp_path):
    journal = Journal(tmp_path / "journal", "embedded /somewhere storyreel")
    assert journal.path is None and not (tmp_path / "journal").exists()  # nothing until kept

    for n in (1, 2):
        journal.append(change(n).entry(n))

    assert journal.path is not None and journal.path.suffix == ".jsonl"
    assert mode(tmp_path / "journal") == 0o700 and mode(journal.path) == 0o600
    entries = read_entries(journal.path)
    assert [Change.from_entry(e) for e in entries] == [change(1), change(2)]
    assert entries[0]["update"]["updated_at"] == WHEN  # a date stays a date

    path = journal.path
    journal.clear()
    assert not path.exists() and journal.path is None


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path, caplog):
    journal = Journal(tmp_path, "db")
    journal.append(change(1).entry(1))
    journal.append(change(2).entry(2))
    path = journal.close()
    assert path is not None and path.exists()  # changes in it: it stays for the next start
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 25])  # killed in the middle of the second line

    with caplog.at_level(logging.WARNING):
        entries = read_entries(path)

    assert [e["seq"] for e in entries] == [1]
    assert "unfinished last line 2" in caplog.text


async def test_replay_applies_what_ended_processes_left_in_order_and_removes_it(tmp_path):
    left = Journal(tmp_path, "db")
    for seq in (3, 1, 2):  # a write made earlier may be kept later: seq is the order made
        left.append(change(seq).entry(seq))
    left_path = left.close()
    other_db = Journal(tmp_path, "another db")
    other_db.append(change(9).entry(9))
    live = Journal(tmp_path, "db")  # another process still writing (holds its lock)
    live.append(change(7).entry(7))
    applied: list[int] = []

    async def apply(entry):
        applied.append(entry["seq"])

    replayed = await Journal(tmp_path, "db").replay(apply)

    assert replayed == 3 and applied == [1, 2, 3]
    assert not left_path.exists()
    assert live.path.exists() and other_db.path.exists()  # not ours to replay
    live.clear()
    other_db.clear()


async def test_kept_writes_are_journalled_and_the_journal_goes_once_they_are_written(tmp_path):
    down = True
    written: list[int] = []

    async def apply(c: Change) -> None:
        if down:
            raise ConnectionError("refused")
        written.append(c.update["n"])

    journal = Journal(tmp_path, "db")
    writes = OrderedWrites(is_transient=lambda e: isinstance(e, ConnectionError),
                           backoff=Backoff(base_s=0.01, cap_s=0.02), journal=journal)
    for n in (1, 2, 3):
        c = change(n)
        await writes.submit(c.key, c.what, lambda c=c: apply(c), change=c)

    path = writes.journal_path
    # On disk as soon as submit returned, before any of them reached the server.
    assert path is not None and [e["update"]["n"] for e in read_entries(path)] == [1, 2, 3]

    down = False
    assert await writes.wait_flushed(2.0)
    assert written == [1, 2, 3] and not path.exists() and writes.journal_path is None
    assert await writes.aclose(0.1) == 0


async def test_a_disk_that_refuses_the_journal_is_said_and_the_write_still_kept(tmp_path):
    (tmp_path / "journal").write_text("a file where the journal folder should be")
    writes = OrderedWrites(is_transient=lambda e: isinstance(e, ConnectionError),
                           journal=Journal(tmp_path / "journal", "db"))

    async def fail() -> None:
        raise ConnectionError("refused")

    await writes.submit("k", "w", fail, change=change(1))

    assert writes.pending == 1 and writes.unjournalled == 1
    assert "cannot write the history journal" in writes.journal_error
    assert await writes.aclose(0.05) == 1


# Across processes, on the embedded server.

WRITER = """
import asyncio, os, sys
from pathlib import Path
from app.core.history.factory import open_history
from app.core.models import ShotStatus
from app.core.settings import Settings
from tests.core.history.test_history_contract import make_run, make_shot

async def main(home):
    store = await open_history(Settings(home=home))
    run = make_run(1)
    await store.create_run(run)
    await store.server.astop()  # the server goes away and stays away
    shots = [make_shot(run, 1, i) for i in (1, 2)]
    for shot in shots:
        shot.status = ShotStatus.DONE
        await store.upsert_shot(shot)
    await store.update_run(run.run_id, {"status": "completed", "shots_done": 2})
    assert store.pending_writes == 3, store.pending_writes
    print(store.writes.journal_path, flush=True)
    os._exit(0)  # gone, without closing anything

if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
"""


def test_changes_kept_by_a_process_that_exited_are_written_by_the_next_one(tmp_path):
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, "-c", WRITER, str(home)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    journal_path = Path(done.stdout.strip())
    assert journal_path.parent == home / "journal" and journal_path.exists()
    assert history_journal(Settings(home=home)).database in journal_path.name
    assert "password" not in journal_path.read_text().lower()

    async def reopen():
        store = await open_history(Settings(home=home))  # the server is back: a new one
        try:
            return await store.get_run(make_run(1).run_id)
        finally:
            await store.aclose()

    run = asyncio.run(reopen())

    assert (run.status, run.shots_done) == (RunStatus.COMPLETED, 2)
    assert [s.status for s in run.shots] == [ShotStatus.DONE, ShotStatus.DONE]
    assert not journal_path.exists()  # replayed once, then gone
    assert os.listdir(home / "journal") == []
    assert history_servers() == []


async def test_a_journal_the_server_refuses_stays_for_later_and_history_still_opens(tmp_path):
    from app.core.history.mongo import MongoHistory
    from tests.core.history.test_history_faults import ReadOnlyDisk

    left = Journal(tmp_path, "db")
    left.append(change(1).entry(1))
    path = left.close()
    disk = ReadOnlyDisk()
    first = MongoHistory(disk, where="mongomock")
    await first.start()  # the database exists (migrated) ...
    disk.full = True  # ... and then takes no more writes
    store = MongoHistory(disk, where="mongomock", journal=Journal(tmp_path, "db"))

    await store.start()  # opens for reading all the same
    assert await store.count_runs() == 0
    await store.aclose()
    assert path.exists() and len(read_entries(path)) == 1  # kept for a writable database

    disk.full = False
    store = MongoHistory(disk, where="mongomock", journal=Journal(tmp_path, "db"))
    await store.start()
    stored = await store.database["shots"].find_one({"_id": "shot:r/1"})
    await store.aclose()
    assert stored["n"] == 1 and not path.exists()


WRITER_KILLED = """
import asyncio, os, signal, sys
from pathlib import Path
from app.core.history.factory import open_history
from app.core.models import ShotStatus
from app.core.settings import Settings
from tests.core.history.test_history_contract import make_run, make_shot

async def main(home):
    store = await open_history(Settings(home=home))
    store.writes.batch_s = 3600  # the batch would go out long after the kill
    run = make_run(1)
    await store.create_run(run)
    shots = [make_shot(run, 1, i) for i in (1, 2)]
    for shot in shots:
        shot.status, shot.job_id = ShotStatus.RENDERING, f"job-{shot.shot_id}"
        await store.upsert_shot(shot, later=True)
    shots[0].status = ShotStatus.DONE
    await store.upsert_shot(shots[0])  # a final state: written now (its later one superseded)
    await store.update_run(run.run_id, {"shots_done": 1}, later=True)
    assert store.pending_writes == 2, store.pending_writes
    print(store.writes.journal_path, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
"""


def test_changes_made_later_survive_a_sigkill_before_their_batch_is_written(tmp_path):
    """...and a replay ends with what was written now after them, not with them."""
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, "-c", WRITER_KILLED, str(home)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    journal_path = Path(done.stdout.strip())
    assert journal_path.parent == home / "journal" and journal_path.exists()

    async def reopen():
        store = await open_history(Settings(home=home))
        try:
            return await store.get_run(make_run(1).run_id)
        finally:
            await store.aclose()

    run = asyncio.run(reopen())

    assert run.shots_done == 1
    assert [(s.status, s.job_id) for s in run.shots] == [
        (ShotStatus.DONE, f"job-{run.shots[0].shot_id}"),
        (ShotStatus.RENDERING, f"job-{run.shots[1].shot_id}")]  # resume polls that job
    assert not journal_path.exists()


OWNER_KILLED = """
import asyncio, os, signal, sys
from pathlib import Path
from app.core.history.factory import open_history
from app.core.models import ShotStatus
from app.core.settings import Settings
from tests.core.history.test_history_contract import make_run, make_shot, owner

async def main(home):
    store = await open_history(Settings(home=home))
    store.writes.batch_s = 3600  # the batch would go out long after the kill
    run = make_run(1, owner=owner("tok-old"))
    await store.create_run(run)
    shot = make_shot(run, 1, 1)
    await store.upsert_shot(shot)
    shot.status, shot.job_id = ShotStatus.RENDERING, "job-old"
    await store.upsert_shot(shot, later=True)
    print(store.writes.journal_path, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
"""


def test_a_journal_replayed_after_its_run_was_taken_over_leaves_the_new_owners_shots(tmp_path):
    """A frozen owner's kept changes, replayed once another process has taken the run over
    and finished a shot, must not set that shot back (it would be drawn and paid again)."""
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, "-c", OWNER_KILLED, str(home)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    journal_path = Path(done.stdout.strip())
    assert '"owner": "tok-old"' in journal_path.read_text()
    aside = tmp_path / journal_path.name
    journal_path.rename(aside)  # as if the new owner's process had not seen it

    run_id = make_run(1).run_id

    async def take_over():
        store = await open_history(Settings(home=home))
        try:
            previous = await store.run_owner(run_id)
            assert previous is not None and previous.token == "tok-old"
            assert await store.claim_run(run_id, owner("tok-new", beat=99_000),
                                         previous=previous)
            run = await store.get_run(run_id)
            shot = run.shots[0]
            shot.status, shot.job_id = ShotStatus.DONE, "job-new"
            await store.upsert_shot(shot)
        finally:
            await store.aclose()

    asyncio.run(take_over())
    aside.rename(journal_path)

    async def reopen():
        store = await open_history(Settings(home=home))  # replays the old journal
        try:
            return await store.get_run(run_id)
        finally:
            await store.aclose()

    run = asyncio.run(reopen())
    assert [(s.status, s.job_id) for s in run.shots] == [(ShotStatus.DONE, "job-new")]
    assert run.owner is not None and run.owner.token == "tok-new"
    assert not journal_path.exists()  # read, and nothing in it applied
