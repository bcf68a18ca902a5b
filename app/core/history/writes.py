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
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    """

    key: str  # the document it changes: writes to one key never overtake each other
    what: str  # for messages, e.g. "shot s01-02 of <run id>"
    op: str
    collection: str
    filter: dict[str, Any]
    update: dict[str, Any]

    def entry(self, seq: int) -> dict[str, Any]:
        return {"seq": seq, "key": self.key, "what": self.what, "op": self.op,
                "collection": self.collection, "filter": self.filter, "update": self.update}

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Change:
        """A change read back from a journal line. Raises ``ValueError`` when it is not one."""
        try:
            return cls(key=str(entry["key"]), what=str(entry["what"]), op=str(entry["op"]),
                       collection=str(entry["collection"]), filter=dict(entry["filter"]),
                       update=dict(entry["update"]))
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
    ) -> None:
        self.journal = journal
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
        """How many writes are waiting for the server."""
        return len(self._kept)

    @property
    def journal_path(self) -> Path | None:
        """The journal file that holds the kept writes, while there is one."""
        return self.journal.path if self.journal is not None else None

    async def submit(self, key: str, what: str, apply: Callable[[], Awaitable[None]], *,
                     change: Change | None = None) -> None:
        """Write now, or keep the write if the server cannot be reached (journalled when
        it comes with its ``change`` and there is a journal).

        Raises what ``apply`` raises for any failure that is not transient.
        """
        seq = next(self._seq)
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                if self._kept:  # something older is waiting: queue behind it
                    self._keep(_Kept(seq, key, what, apply, change))
                    return
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

    def _keep(self, item: _Kept) -> None:
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
            self.unjournalled += 1
            self.journal_error = f"cannot write the history journal in {self.journal.folder}: " \
                                 f"{exc.strerror or exc}"
            if self.unjournalled == 1:
                log.error("history: %s; kept changes are held in memory only",
                          self.journal_error)

    async def wait_flushed(self, within_s: float) -> bool:
        """Retry kept writes now and wait up to ``within_s``; True when none is left."""
        if not self._kept:
            return True
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), within_s)
        except TimeoutError:
            return False
        return True

    async def aclose(self, within_s: float) -> int:
        """Give kept writes ``within_s`` to be written, then stop. Returns how many are lost."""
        await self.wait_flushed(within_s)
        lost = len(self._kept)
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        kept_in = self.journal.close() if self.journal is not None else None
        if lost:
            where = (f"; they are kept in {kept_in} and written when history is next opened"
                     if kept_in is not None and not self.unjournalled else "")
            log.error("history: %d change(s) could not be written before closing%s: %s",
                      lost, where, ", ".join(k.what for k in self._kept[:5]))
        self._kept.clear()
        self._idle.set()
        return lost
