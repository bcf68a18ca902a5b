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
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Attempt n waits ``base * 2**(n-1)``, capped, times a random factor in [0.5, 1]."""

    base_s: float = 0.1
    cap_s: float = 5.0

    def delay(self, failures: int, rng: random.Random) -> float:
        return min(self.cap_s, self.base_s * 2 ** max(failures - 1, 0)) * rng.uniform(0.5, 1.0)


@dataclass(order=True)
class _Kept:
    seq: int
    key: str = field(compare=False)
    what: str = field(compare=False)
    apply: Callable[[], Awaitable[None]] = field(compare=False)


class OrderedWrites:
    """Runs writes now when it can, keeps them in order when it cannot.

    ``is_transient(exc)`` tells a lost connection (keep and retry) from any
    other failure (raise). ``describe(exc)`` makes the message that is logged.
    """

    def __init__(
        self,
        *,
        is_transient: Callable[[BaseException], bool],
        describe: Callable[[BaseException], str] = str,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
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

    @property
    def pending(self) -> int:
        """How many writes are waiting for the server."""
        return len(self._kept)

    async def submit(self, key: str, what: str, apply: Callable[[], Awaitable[None]]) -> None:
        """Write now, or keep the write if the server cannot be reached.

        Raises what ``apply`` raises for any failure that is not transient.
        """
        seq = next(self._seq)
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                if self._kept:  # something older is waiting: queue behind it
                    self._keep(_Kept(seq, key, what, apply))
                    return
                try:
                    await apply()
                except Exception as exc:
                    if not self._is_transient(exc):
                        raise
                    log.warning("history: cannot write %s (%s); keeping it and later "
                                "changes in order until the server is back",
                                what, self._describe(exc))
                    self._keep(_Kept(seq, key, what, apply))
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def _keep(self, item: _Kept) -> None:
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
        log.info("history: server is back; every kept change is written")
        self._idle.set()

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
        if lost:
            log.error("history: %d change(s) could not be written before closing: %s",
                      lost, ", ".join(k.what for k in self._kept[:5]))
        self._kept.clear()
        self._idle.set()
        return lost
