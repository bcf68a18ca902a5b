"""Writes that survive a lost server: retried with backoff, buffered in order.

A run must go on when its history server goes away (a cluster fails over, a
laptop changes networks). So a write that fails for want of a connection is
not an error for the caller: it is kept, in the order the writes were made,
and a background task writes the kept changes out, oldest first, retrying
with exponential backoff until the server answers again.

Order is kept where it matters, per document: writes to one document (one
``key``) never overtake each other, and once anything is waiting every new
write queues behind it. Every write the store makes is idempotent (``$set``
or a replace, both by key), so writing one again after a lost reply is
harmless.

Errors that are not about the connection (a refused query, a missing run)
are raised to the caller as they happen; when they happen to a kept write,
they are logged and that write is dropped, since nobody waits for it any more.

A write may come with its ``change`` as data (collection, filter, update
document): then, when it is kept, the change is also appended to a
``Journal`` on disk (fsync'd) before ``submit`` returns, so that a process
that exits during the outage loses nothing: the next store on the same
database replays the journal (``journal.py``). The journal is removed as soon
as every kept write is written.

A write may also be made ``later`` (issue 16: a feature-length run lands a shot
every few milliseconds, and a round trip per change kept the event loop and
every shot's worker waiting). It is then appended to the journal (no fsync:
safe from the process being killed, which is what the journal is for) and
``submit`` returns at once; a background task writes what came meanwhile in
one batch (``apply_batch``) every ``batch_s``. Changes to one document
coalesce: a later replace supersedes an earlier one not written yet, a later
revise adds its fields to an earlier one. A write made now to a document with
a change waiting supersedes it (a replace) or waits for it (order per
document holds), and is journalled too while the journal holds anything (a
replay must end with it); a read waits for all of them (``wait_flushed``). A
batch that fails for want of a connection becomes kept writes, as above; one
the server refuses is written change by change, and what is refused is logged
and dropped.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.history.journal import line_of

if TYPE_CHECKING:
    from app.core.history.journal import Journal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Attempt n waits ``base * 2**(n-1)``, capped, times a random factor in [0.5, 1]."""

    base_s: float = 0.1
    cap_s: float = 5.0

    def delay(self, failures: int, rng: random.Random) -> float:
        return min(self.cap_s, self.base_s * 2 ** max(failures - 1, 0)) * rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Change:
    """One write as data, so that it can outlive the process (see ``journal.py``).

    ``op`` is ``"replace"`` (``update`` is the whole document that replaces, or
    becomes, the one ``filter`` finds), ``"revise"`` (``update`` holds fields to
    set on the one document ``filter`` finds) or ``"delete"`` (the one document whose
    ``_id`` ``filter`` gives; ``update`` is empty). Each is idempotent.

    ``run_id`` and ``owner``: the run it belongs to, and the token of this process's
    ownership of that run when the change was made (None when it did not own it). A
    journal replayed by another process skips a change whose run has another owner
    by then: it took the run over, and its shots are newer than this change.
    """

    key: str  # the document it changes: writes to one key never overtake each other
    what: str  # for messages, e.g. "shot s01-02 of <run id>"
    op: str
    collection: str
    filter: dict[str, Any]
    update: dict[str, Any]
    run_id: str | None = None
    owner: str | None = None

    @property
    def run(self) -> str | None:
        """The run it belongs to, when it says."""
        return self.run_id or self.filter.get("run_id") or self.update.get("run_id")

    def entry(self, seq: int) -> dict[str, Any]:
        entry = {"seq": seq, "key": self.key, "what": self.what, "op": self.op,
                 "collection": self.collection, "filter": self.filter, "update": self.update}
        if self.owner is not None:
            entry.update(run_id=self.run_id, owner=self.owner)
        return entry

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Change:
        """A change read back from a journal line. Raises ``ValueError`` when it is not one."""
        try:
            owner = entry.get("owner")
            return cls(key=str(entry["key"]), what=str(entry["what"]), op=str(entry["op"]),
                       collection=str(entry["collection"]), filter=dict(entry["filter"]),
                       update=dict(entry["update"]),
                       run_id=None if owner is None else str(entry["run_id"]),
                       owner=None if owner is None else str(owner))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a history change: {exc}") from None


@dataclass(order=True)
class _Kept:
    seq: int
    key: str = field(compare=False)
    what: str = field(compare=False)
    apply: Callable[[], Awaitable[None]] = field(compare=False)
    change: Change | None = field(default=None, compare=False)


class OrderedWrites:
    """Runs writes now when it can, keeps them in order when it cannot.

    ``is_transient(exc)`` tells a lost connection (keep and retry) from any
    other failure (raise). ``describe(exc)`` makes the message that is logged.
    With a ``journal``, kept writes that carry their ``change`` are also journalled.
    """

    def __init__(
        self,
        *,
        is_transient: Callable[[BaseException], bool],
        describe: Callable[[BaseException], str] = str,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        journal: Journal | None = None,
        apply_batch: Callable[[Sequence[Change]], Awaitable[None]] | None = None,
        batch_s: float = 0.05,
    ) -> None:
        self.journal = journal
        self._apply_batch = apply_batch  # without it, ``later`` writes are made now
        self.batch_s = batch_s
        self.batch_max = 500  # changes a batch: one in flight never holds a write for long
        self._later: dict[str, tuple[int, Change]] = {}  # key -> (seq, coalesced change)
        self._writing: dict[str, tuple[int, Change]] = {}  # the batch being written
        self._batcher: asyncio.Task | None = None
        self._hurry = asyncio.Event()  # a reader (or a write now) wants the batch out
        self._later_idle = asyncio.Event()
        self._later_idle.set()
        self._batch_written = asyncio.Event()  # set (and replaced) as each batch ends
        self._lines: list[bytes] = []  # journal lines waiting for ``_write_lines``
        self._lines_done: asyncio.Future | None = None  # resolves once they are written
        self._line_writer: asyncio.Task | None = None
        self.batches = 0  # batches written (for tests and benchmarks)
        self._is_transient = is_transient
        self._describe = describe
        self.backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._seq = itertools.count()
        self._kept: list[_Kept] = []  # sorted by seq: the order the writes were made
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # key -> (lock, users)
        self._flusher: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.written_late = 0  # kept writes written once the server was back
        self.dropped = 0  # kept writes that failed for good
        self.unjournalled = 0  # kept writes the journal could not take (disk full, ...)
        self.journal_error = ""  # why, the last time

    @property
    def pending(self) -> int:
        """How many writes are waiting for the server (kept, or made ``later``)."""
        return len(self._kept) + len(self._later) + len(self._writing)

    @property
    def kept(self) -> int:
        """How many writes are kept because the server could not be reached."""
        return len(self._kept)

    @property
    def journal_path(self) -> Path | None:
        """The journal file that holds the kept writes, while there is one."""
        return self.journal.path if self.journal is not None else None

    async def submit(self, key: str, what: str, apply: Callable[[], Awaitable[None]], *,
                     change: Change | None = None, later: bool = False) -> None:
        """Write now, or keep the write if the server cannot be reached (journalled when
        it comes with its ``change`` and there is a journal). ``later`` (with a ``change``):
        journal it and return; it is written with the next batch (see the module).

        Raises what ``apply`` raises for any failure that is not transient.
        """
        if later and change is not None and self._defer(change):
            await self._lines_written()
            return
        waiting = self._later.get(key)
        if waiting is not None and change is not None and change.op == waiting[1].op == \
                "replace":
            del self._later[key]  # this write, made now, supersedes it
        while key in self._later or key in self._writing:  # its older change goes first
            self._hurry.set()
            await self._batch_written.wait()
        seq = next(self._seq)
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                if self._kept:  # something older is waiting: queue behind it
                    self._keep(_Kept(seq, key, what, apply, change))
                    return
                if change is not None and self.journal is not None and (
                        self.journal.entries or self._lines):
                    # The journal holds changes made later, perhaps an older one to this
                    # document: a replay after a kill must end with this one, not that.
                    self._lines.append(line_of(change.entry(seq)))
                    await self._lines_written()
                try:
                    await apply()
                except Exception as exc:
                    if not self._is_transient(exc):
                        raise
                    log.warning("history: cannot write %s (%s); keeping it and later "
                                "changes in order until the server is back",
                                what, self._describe(exc))
                    self._keep(_Kept(seq, key, what, apply, change))
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def _defer(self, change: Change) -> bool:
        """Take a change to write with the next batch; False when it must be written now."""
        if self._apply_batch is None or self._kept:  # no batches, or an outage: in order
            return False
        waiting = self._later.get(change.key)
        if waiting is not None:
            if change.op != waiting[1].op:
                return False
            if change.op == "revise":  # fields set later win; the others stay
                change = replace(change, update={**waiting[1].update, **change.update})
        seq = next(self._seq)
        if self.journal is not None:  # written by ``_lines_written``, which the caller awaits
            self._lines.append(line_of(change.entry(seq)))
        self._later[change.key] = (waiting[0] if waiting else seq, change)
        self._later_idle.clear()
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._write_batches(), name="history-batches")
        return True

    async def _lines_written(self) -> None:
        """Wait until the journal lines queued so far are written (not fsync'd: safe from a
        kill). One thread call writes every line queued while the one before it ran (a
        group commit), so that a disk that is slow to take them (another program
        writing gigabytes) holds up the callers, never the event loop."""
        if not self._lines and self._line_writer is None:
            return
        if self._lines_done is None:
            self._lines_done = asyncio.get_running_loop().create_future()
        done = self._lines_done
        if self._line_writer is None or self._line_writer.done():
            self._line_writer = asyncio.create_task(self._write_lines(), name="history-journal")
        await asyncio.shield(done)

    async def _write_lines(self) -> None:
        assert self.journal is not None
        while self._lines:
            lines, done = self._lines, self._lines_done
            self._lines, self._lines_done = [], None
            try:
                await asyncio.to_thread(self.journal.append_lines, lines)
            except OSError as exc:
                self._journal_failed(exc)
            finally:
                if done is not None and not done.done():
                    done.set_result(None)
        self._line_writer = None

    async def _write_batches(self) -> None:
        while self._later:
            if self.batch_s and not self._hurry.is_set():
                try:  # changes coming meanwhile go out together
                    await asyncio.wait_for(self._hurry.wait(), self.batch_s)
                except TimeoutError:
                    pass
            self._hurry.clear()
            if not self._later:
                break
            batch = sorted(self._later.values(), key=lambda item: item[0])[:self.batch_max]
            self._writing = {change.key: (seq, change) for seq, change in batch}
            for key in self._writing:
                del self._later[key]
            try:
                await self._write_batch(batch)
            finally:
                self._writing = {}
                self._batch_written.set()
                self._batch_written = asyncio.Event()
            if not self._later and not self._kept and self.journal is not None \
                    and not self._lines and self._line_writer is None:
                self.journal.empty()  # all of it is in the database now
        self._later_idle.set()

    async def _write_batch(self, batch: list[tuple[int, Change]]) -> None:
        assert self._apply_batch is not None
        apply_batch = self._apply_batch
        try:
            await apply_batch([change for _, change in batch])
            self.batches += 1
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._is_transient(exc):
                log.warning("history: cannot write %d change(s) (%s); keeping them and later "
                            "changes in order until the server is back", len(batch),
                            self._describe(exc))
                for seq, change in batch:  # journalled already
                    self._keep(_Kept(seq, change.key, change.what,
                                     lambda c=change: apply_batch([c]), change),
                               journalled=True)
                return
        for n, (_, change) in enumerate(batch):  # refused: find which, write the others
            try:
                await apply_batch([change])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._is_transient(exc):
                    for seq2, change2 in batch[n:]:
                        self._keep(_Kept(seq2, change2.key, change2.what,
                                         lambda c=change2: apply_batch([c]), change2),
                                   journalled=True)
                    return
                log.error("history: dropped %s: %s", change.what, self._describe(exc))
                self.dropped += 1

    def _keep(self, item: _Kept, *, journalled: bool = False) -> None:
        if not journalled:
            self._journal(item)
        bisect.insort(self._kept, item)
        self._idle.clear()
        self._wake.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="history-flush")

    async def _flush(self) -> None:
        failures = 0
        while self._kept:
            item = self._kept[0]
            try:
                await item.apply()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._is_transient(exc):
                    failures += 1
                    delay = self.backoff.delay(failures, self._rng)
                    log.debug("history: server still unreachable (%s); retrying in %.2f s",
                              self._describe(exc), delay)
                    self._wake.clear()
                    try:  # a reader in a hurry may wake us early
                        await asyncio.wait_for(self._wake.wait(), delay)
                    except TimeoutError:
                        pass
                    continue
                log.error("history: dropped %s: %s", item.what, self._describe(exc))
                self.dropped += 1
            else:
                self.written_late += 1
            # Not pop(0): an older write may have been slotted in front meanwhile.
            self._kept.remove(item)
            failures = 0
        if self.journal is not None:
            self.journal.clear()  # at once, before any newer write can go straight through
        log.info("history: server is back; every kept change is written")
        self._idle.set()

    def _journal(self, item: _Kept) -> None:
        """Put a kept write on disk before it counts as kept (a blocking fsync, only
        during an outage). When the disk refuses, it is kept in memory only, and said."""
        if self.journal is None or item.change is None:
            return
        try:
            self.journal.append(item.change.entry(item.seq))
        except OSError as exc:
            self._journal_failed(exc)

    def _journal_failed(self, exc: OSError) -> None:
        assert self.journal is not None
        self.unjournalled += 1
        self.journal_error = f"cannot write the history journal in {self.journal.folder}: " \
                             f"{exc.strerror or exc}"
        if self.unjournalled == 1:
            log.error("history: %s; kept changes are held in memory only", self.journal_error)

    async def wait_flushed(self, within_s: float) -> bool:
        """Write the batch now, retry kept writes now, and wait up to ``within_s``; True
        when none is left."""
        if not self.pending:
            return True
        self._hurry.set()
        self._wake.set()
        try:
            async with asyncio.timeout(within_s):
                await self._later_idle.wait()
                await self._idle.wait()
        except TimeoutError:
            return False
        return not self.pending

    async def aclose(self, within_s: float) -> int:
        """Give kept writes ``within_s`` to be written, then stop. Returns how many are lost."""
        await self.wait_flushed(within_s)
        if self._line_writer is not None:  # the journal's lines go on disk before it closes
            await asyncio.gather(self._line_writer, return_exceptions=True)
        for task in (self._batcher, self._flusher):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        unwritten = [change for _, change in (*self._writing.values(), *self._later.values())]
        lost = len(self._kept) + len(unwritten)
        self._kept.extend(_Kept(-1, c.key, c.what, _nothing, c) for c in unwritten)
        kept_in = self.journal.close() if self.journal is not None else None
        if lost:
            where = (f"; they are kept in {kept_in} and written when history is next opened"
                     if kept_in is not None and not self.unjournalled else "")
            log.error("history: %d change(s) could not be written before closing%s: %s",
                      lost, where, ", ".join(k.what for k in self._kept[:5]))
        self._kept.clear()
        self._later.clear()
        self._writing = {}
        self._idle.set()
        self._later_idle.set()
        self._batch_written.set()
        return lost


async def _nothing() -> None:
    return None
