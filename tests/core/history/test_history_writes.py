"""Ordered writes: straight through when the server answers, kept in order when not."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from app.core.history.journal import Journal, read_entries
from app.core.history.writes import Backoff, Change, OrderedWrites


class Server:
    """Applies writes to a log; while ``down`` every write fails as a lost connection."""

    def __init__(self) -> None:
        self.down = False
        self.applied: list[str] = []
        self.attempts = 0

    def write(self, name: str, *, delay: float = 0.0, refuse: bool = False):
        async def apply() -> None:
            self.attempts += 1
            await asyncio.sleep(delay)
            if self.down:
                raise ConnectionError("connection refused")
            if refuse:
                raise ValueError(f"{name} refused")
            self.applied.append(name)

        return apply


def make_writes() -> OrderedWrites:
    return OrderedWrites(is_transient=lambda exc: isinstance(exc, ConnectionError),
                         backoff=Backoff(base_s=0.01, cap_s=0.05))


async def test_writes_go_straight_through_while_the_server_answers():
    server, writes = Server(), make_writes()

    for name in ("a", "b", "c"):
        await writes.submit(name, name, server.write(name))

    assert server.applied == ["a", "b", "c"] and writes.pending == 0


async def test_writes_made_while_the_server_is_away_are_kept_and_written_in_order():
    server, writes = Server(), make_writes()
    await writes.submit("run", "create", server.write("create"))
    server.down = True

    for n in range(5):  # none of these raises: the run goes on
        await writes.submit(f"shot{n % 2}", f"w{n}", server.write(f"w{n}"))
    assert writes.pending == 5 and server.applied == ["create"]
    assert not await writes.wait_flushed(0.05)  # still away

    server.down = False
    assert await writes.wait_flushed(2.0)

    assert server.applied == ["create", "w0", "w1", "w2", "w3", "w4"]
    assert writes.pending == 0 and writes.written_late == 5
    await writes.aclose(0.1)


async def test_a_later_write_to_a_document_never_overtakes_an_earlier_one():
    server, writes = Server(), make_writes()
    server.down = True
    # The first write is slow; the second, to the same document, is quick and would
    # fail and be kept (and flushed) before the first lands, if it did not wait.
    first = asyncio.create_task(writes.submit("shot", "rendering", server.write("rendering",
                                                                               delay=0.05)))
    await asyncio.sleep(0)
    second = asyncio.create_task(writes.submit("shot", "done", server.write("done")))
    await asyncio.sleep(0.01)
    server.down = False  # back before the first write has finished
    await asyncio.gather(first, second)
    await writes.wait_flushed(2.0)

    assert server.applied == ["rendering", "done"]
    await writes.aclose(0.1)


async def test_a_refused_write_is_raised_to_its_caller():
    server, writes = Server(), make_writes()

    with pytest.raises(ValueError, match="refused"):
        await writes.submit("run", "bad", server.write("bad", refuse=True))
    assert writes.pending == 0


async def test_a_kept_write_refused_later_is_logged_and_dropped(caplog):
    server, writes = Server(), make_writes()
    server.down = True
    await writes.submit("a", "first", server.write("first"))
    await writes.submit("b", "refused", server.write("refused", refuse=True))
    await writes.submit("c", "third", server.write("third"))
    server.down = False

    with caplog.at_level(logging.ERROR, logger="app.core.history.writes"):
        assert await writes.wait_flushed(2.0)

    assert server.applied == ["first", "third"] and writes.dropped == 1
    assert "dropped refused" in caplog.text
    await writes.aclose(0.1)


async def test_kept_writes_are_retried_with_growing_waits_until_the_server_is_back():
    server, writes = Server(), make_writes()
    server.down = True
    await writes.submit("a", "a", server.write("a"))
    await asyncio.sleep(0.2)
    tries_while_down = server.attempts
    server.down = False
    await writes.wait_flushed(2.0)

    # Waits of 0.01, 0.02, 0.04, then 0.05 each (times 0.5..1): a handful in 0.2 s, not hundreds.
    assert 2 <= tries_while_down <= 25
    assert server.applied == ["a"]
    await writes.aclose(0.1)


async def test_closing_while_the_server_is_away_gives_up_after_the_grace_time(caplog):
    server, writes = Server(), make_writes()
    server.down = True
    await writes.submit("a", "run 1", server.write("a"))

    with caplog.at_level(logging.ERROR, logger="app.core.history.writes"):
        lost = await asyncio.wait_for(writes.aclose(0.1), 2.0)

    assert lost == 1 and writes.pending == 0
    assert "1 change(s) could not be written" in caplog.text and "run 1" in caplog.text


def test_backoff_doubles_up_to_its_cap_with_jitter():
    rng = random.Random(1)
    backoff = Backoff(base_s=0.1, cap_s=1.0)

    delays = [backoff.delay(n, rng) for n in range(1, 8)]

    for n, d in enumerate(delays, 1):
        ceiling = min(1.0, 0.1 * 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling


# Writes made ``later`` (issue 16): journalled, coalesced, written in batches.


class BatchServer(Server):
    """Takes batches of changes; each batch is one round trip."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[tuple[str, dict]]] = []
        self.docs: dict[str, dict] = {}

    async def apply_batch(self, changes) -> None:
        self.attempts += 1
        await asyncio.sleep(0)
        if self.down:
            raise ConnectionError("connection refused")
        self.batches.append([(c.key, dict(c.update)) for c in changes])
        for c in changes:
            self.docs[c.key] = ({**self.docs.get(c.key, {}), **c.update} if c.op == "revise"
                                else dict(c.update))

    def write(self, name: str, **kwargs):  # a write made now, of the document ``name``
        async def apply() -> None:
            self.attempts += 1
            if self.down:
                raise ConnectionError("connection refused")
            self.applied.append(name)
            self.docs[name] = {"now": True}

        return apply


def batched(server: BatchServer, journal=None, batch_s: float = 0.01) -> OrderedWrites:
    return OrderedWrites(is_transient=lambda exc: isinstance(exc, ConnectionError),
                         backoff=Backoff(base_s=0.01, cap_s=0.05), journal=journal,
                         apply_batch=server.apply_batch, batch_s=batch_s)


def shot_change(key: str, status: str) -> Change:
    return Change(key, f"shot {key}", "replace", "shots", {"_id": key},
                  {"_id": key, "status": status})


def run_change(**fields) -> Change:
    return Change("run:r", "update of run r", "revise", "runs", {"run_id": "r"}, fields)


async def test_changes_made_later_coalesce_per_document_and_go_out_in_one_batch(tmp_path):
    server = BatchServer()
    journal = Journal(tmp_path / "journal", "db")
    writes = batched(server, journal, batch_s=60)  # only a reader sends the batch out

    for status in ("rendering", "done"):
        for key in ("s1", "s2"):
            await writes.submit(key, key, server.write(key), change=shot_change(key, status),
                                later=True)
        await writes.submit("run:r", "run", server.write("run:r"),
                            change=run_change(shots_done=1 if status == "done" else 0,
                                              **({"status": "x"} if status == "rendering"
                                                 else {})), later=True)

    assert server.attempts == 0 and writes.pending == 3  # nothing sent yet...
    assert len(read_entries(journal.path)) == 6  # ...but every change is on disk
    assert await writes.wait_flushed(1.0)  # what a read does first

    assert server.batches == [[("s1", {"_id": "s1", "status": "done"}),
                               ("s2", {"_id": "s2", "status": "done"}),
                               ("run:r", {"status": "x", "shots_done": 1})]]
    assert writes.pending == 0 and journal.path.stat().st_size == 0  # written: emptied
    assert await writes.aclose(0.1) == 0
    assert list((tmp_path / "journal").iterdir()) == []


async def test_a_write_made_now_goes_after_the_later_change_to_its_document():
    server = BatchServer()
    writes = batched(server, batch_s=60)
    for key in ("s1", "s2"):
        await writes.submit(key, key, server.write(key), change=shot_change(key, "rendering"),
                            later=True)

    await writes.submit("s1", "s1 job id", server.write("s1"))  # e.g. a job id: now

    assert server.batches == [[("s1", {"_id": "s1", "status": "rendering"}),
                               ("s2", {"_id": "s2", "status": "rendering"})]]
    assert server.applied == ["s1"] and server.docs["s1"] == {"now": True}
    await writes.aclose(0.1)


async def test_a_replace_made_now_supersedes_the_later_one_still_waiting():
    server = BatchServer()
    writes = batched(server, batch_s=60)
    for key in ("s1", "s2"):
        await writes.submit(key, key, server.write(key), change=shot_change(key, "rendering"),
                            later=True)

    await writes.submit("s1", "s1 done", server.write("s1"), change=shot_change("s1", "done"))
    assert server.applied == ["s1"] and server.batches == []  # no wait for the batch
    assert await writes.wait_flushed(1.0)

    assert server.batches == [[("s2", {"_id": "s2", "status": "rendering"})]]
    assert server.docs["s1"] == {"now": True}  # never set back by the older change
    await writes.aclose(0.1)


async def test_a_batch_that_finds_the_server_away_is_kept_and_written_once_it_is_back():
    server = BatchServer()
    writes = batched(server)
    server.down = True
    await writes.submit("s1", "s1", server.write("s1"), change=shot_change("s1", "done"),
                        later=True)
    await writes.submit("s2", "s2", server.write("s2"), change=shot_change("s2", "done"),
                        later=True)
    await writes.submit("s1", "s1 again", server.write("s1"),  # behind the kept ones
                        change=shot_change("s1", "failed"), later=True)
    assert not await writes.wait_flushed(0.1) and writes.kept >= 2

    server.down = False
    assert await writes.wait_flushed(2.0)

    assert server.docs["s1"]["status"] == "failed"  # the last change to it, last
    assert server.docs["s2"]["status"] == "done" and writes.pending == 0
    await writes.aclose(0.1)
