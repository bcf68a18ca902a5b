"""One owner per run: who may work on it, and the heartbeat that keeps it theirs.

A run records its owner (``RunOwner``: machine, process, a random token, a
heartbeat time and the time the heartbeat runs out). Whatever works on a run
(starting it, resuming, retrying, regenerating, editing) first takes it, with
one conditional update on the owner it saw, and gives it back when the work
ends. While it works, it renews the heartbeat every few seconds: one small write.

A run can be taken when nobody holds it, when we hold it, or when its owner is
*stale*: the heartbeat ran out (three heartbeats missed), or the owner is a
process of this machine that no longer exists (so a crash is taken over at once
on the machine where it happened, and after the heartbeat runs out anywhere
else). Otherwise the work is refused with ``RunBusy``, naming the owner.

Times are wall-clock milliseconds: the owner's clock writes them, the taker's
clock judges them, so two machines on one database should keep their clocks
within a few seconds of each other (NTP does).

The decisions are pure functions; ``Leases`` holds the runs of one pipeline and
runs the heartbeat on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from app.core.errors import HistoryError, StoryreelError
from app.core.files import PRIVATE_FILE, private_dir
from app.core.history import HistoryStore
from app.core.models import Run, RunOwner

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
"""How often an owner renews its heartbeat."""
MISSED_BEATS = 3
"""An owner whose heartbeat is this many beats old is stale: anyone may take over."""
MACHINE_ID_FILE = "machine-id"


class RunBusy(StoryreelError):
    """The run is held by another live owner: leave it alone."""

    def __init__(self, message: str, *, run_id: str, owner: RunOwner | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.owner = owner


# Who we are.


@dataclass(frozen=True)
class Identity:
    """This pipeline as an owner: machine, process and a token of its own."""

    machine: str
    host: str
    pid: int
    token: str

    @classmethod
    def of_this_process(cls, home: Path | None = None) -> Identity:
        """This process, with a new token (one per pipeline: two pipelines of one window
        never share a run)."""
        host = socket.gethostname() or "localhost"
        return cls(machine=f"{host}/{machine_id(home)}", host=host, pid=os.getpid(),
                   token=secrets.token_hex(8))

    def owner(self, now: int, interval_s: float = HEARTBEAT_S) -> RunOwner:
        """Our owner record, with a heartbeat at ``now`` (epoch ms)."""
        return RunOwner(machine=self.machine, host=self.host, pid=self.pid, token=self.token,
                        heartbeat_ms=now, expires_ms=now + int(interval_s * MISSED_BEATS * 1000))


def machine_id(home: Path | None) -> str:
    """A stable id of this install: kept in the data folder (created once, private), or
    the machine's network node id when the folder cannot hold it."""
    if home is not None:
        path = Path(home) / MACHINE_ID_FILE
        try:
            return path.read_text(encoding="ascii").strip()[:32] or _new_machine_id(path)
        except FileNotFoundError:
            try:
                return _new_machine_id(path)
            except OSError:
                pass
        except OSError:
            pass
    return f"{uuid.getnode():012x}"


def _new_machine_id(path: Path) -> str:
    value = secrets.token_hex(6)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="ascii").strip()[:32] or value
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(value + "\n")
    return value


def now_ms() -> int:
    return int(time.time() * 1000)


def pid_alive(pid: int) -> bool | None:
    """Whether a process with this id exists on this machine; None when it cannot be told
    safely (on Windows ``os.kill(pid, 0)`` would stop the process, not probe it)."""
    if sys.platform == "win32" or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        return True
    except OSError:
        return None
    return True


# The decisions.


class Standing(Enum):
    FREE = "free"  # nobody holds it
    OURS = "ours"  # we hold it
    STALE = "stale"  # its owner stopped: it may be taken over
    LIVE = "live"  # another owner works on it: leave it alone


def standing(owner: RunOwner | None, me: Identity, now: int, *,
             alive: Callable[[int], bool | None] = pid_alive) -> Standing:
    if owner is None:
        return Standing.FREE
    if owner.token == me.token:
        return Standing.OURS
    if owner.expires_ms < now:
        return Standing.STALE
    if owner.machine == me.machine and owner.pid != me.pid and alive(owner.pid) is False:
        return Standing.STALE  # a process of this machine that is gone
    return Standing.LIVE


def live_elsewhere(run: Run, me: Identity, now: int, *,
                   alive: Callable[[int], bool | None] = pid_alive) -> bool:
    return standing(run.owner, me, now, alive=alive) is Standing.LIVE


def split_unfinished(runs: Iterable[Run], me: Identity, now: int, *,
                     alive: Callable[[int], bool | None] = pid_alive
                     ) -> tuple[list[Run], list[Run]]:
    """(runs we may resume, runs another live owner works on)."""
    free, busy = [], []
    for run in runs:
        (busy if live_elsewhere(run, me, now, alive=alive) else free).append(run)
    return free, busy


def _ago(ms: int) -> str:
    seconds = max(0, ms) / 1000
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def describe(owner: RunOwner, now: int) -> str:
    """``process 1234 on host H (heartbeat 2 s ago)``."""
    ago = _ago(now - owner.heartbeat_ms)
    return f"process {owner.pid} on host {owner.host} (heartbeat {ago} ago)"


def busy_message(run_id: str, owner: RunOwner, now: int) -> str:
    return f"run {run_id} is being rendered by {describe(owner, now)}; leaving it alone"


def takeover_message(run_id: str, owner: RunOwner, now: int) -> str:
    return (f"run {run_id}: taking it over from process {owner.pid} on host {owner.host}, "
            f"which stopped (last heartbeat {_ago(now - owner.heartbeat_ms)} ago)")


@dataclass(frozen=True)
class Taken:
    """A run we now hold; ``previous`` is the stale owner we took it from, if any."""

    run_id: str
    previous: RunOwner | None = None
    message: str | None = None  # says so when we took it over


# Holding runs.


class Leases:
    """The runs one pipeline holds, and the heartbeat that keeps them held.

    ``on_lost(run_id)`` is called (on the event loop) when a heartbeat finds that another
    owner took a run over, after ours went stale: the work on it must stop.
    """

    def __init__(self, history: HistoryStore, identity: Identity, *,
                 interval_s: float = HEARTBEAT_S,
                 on_lost: Callable[[str], None] | None = None,
                 clock: Callable[[], int] = now_ms,
                 alive: Callable[[int], bool | None] = pid_alive) -> None:
        if interval_s <= 0:
            raise ValueError("the heartbeat interval must be positive")
        self.history = history
        self.identity = identity
        self.interval_s = interval_s
        self.on_lost = on_lost
        self._clock = clock
        self._alive = alive
        self._held: dict[str, int] = {}  # run id -> how many pieces of work hold it
        self._tried: dict[str, float] = {}  # run id -> when its heartbeat was last tried
        self._beat: asyncio.Task | None = None
        self.beats = 0  # heartbeats written (tests and benchmarks look at it)

    @property
    def held(self) -> list[str]:
        return sorted(self._held)

    def owner(self) -> RunOwner:
        """Our owner record as of now, for a run we are about to create."""
        return self.identity.owner(self._clock(), self.interval_s)

    async def acquire(self, run_id: str) -> Taken:
        """Take the run, or raise ``RunBusy`` naming its live owner (``RunNotFound`` if
        there is no such run, ``HistoryError`` if history cannot say)."""
        for _ in range(5):
            current = await self.history.run_owner(run_id)
            now = self._clock()
            verdict = standing(current, self.identity, now, alive=self._alive)
            if verdict is Standing.LIVE:
                assert current is not None
                raise RunBusy(busy_message(run_id, current, now), run_id=run_id, owner=current)
            mine = self.identity.owner(now, self.interval_s)
            if await self.history.claim_run(run_id, mine, previous=current):
                self.hold(run_id)
                if verdict is Standing.STALE:
                    assert current is not None
                    message = takeover_message(run_id, current, now)
                    log.warning("%s", message)
                    return Taken(run_id, current, message)
                return Taken(run_id)
            # The owner changed between our reading and our update: read it again.
        raise RunBusy(f"run {run_id} keeps changing hands; leaving it alone", run_id=run_id)

    def hold(self, run_id: str) -> None:
        """Count the run as ours (acquired, or created with ``owner()``) and beat for it."""
        self._held[run_id] = self._held.get(run_id, 0) + 1
        self._tried.setdefault(run_id, time.monotonic())
        if self._beat is None or self._beat.done():
            self._beat = asyncio.create_task(self._beating(), name="run-heartbeat")

    async def release(self, run_id: str) -> None:
        """Give the run back when the last piece of work holding it ends."""
        count = self._held.get(run_id, 0)
        if count > 1:
            self._held[run_id] = count - 1
            return
        if self._held.pop(run_id, None) is None:
            return
        self._tried.pop(run_id, None)
        if not self._held:
            await self._stop_beating()
        try:
            await self.history.release_run(run_id, self.identity.token)
        except HistoryError as exc:  # it goes stale by itself; another process can take it
            log.warning("run %s: could not record that this process let it go: %s",
                        run_id, exc)

    async def _stop_beating(self) -> None:
        beat, self._beat = self._beat, None
        if beat is not None and not beat.done() and beat is not asyncio.current_task():
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)

    async def aclose(self) -> None:
        for run_id in list(self._held):
            self._held[run_id] = 1
            await self.release(run_id)
        await self._stop_beating()

    async def _beating(self) -> None:
        while self._held:
            await asyncio.sleep(self.interval_s)
            for run_id in list(self._held):
                await self._renew(run_id)

    async def confirm(self, run_id: str) -> bool:
        """Whether the run is still ours, before doing something that costs (a new cloud
        job) or that the new owner would have to undo. Free while the heartbeat keeps up;
        when it is overdue (this process was frozen, suspended, starved) the heartbeat is
        written first, and a run another process took over meanwhile is given up here."""
        if run_id not in self._held:
            return False
        if time.monotonic() - self._tried.get(run_id, 0.0) < self.interval_s * 1.5:
            return True
        await self._renew(run_id)
        return run_id in self._held

    async def _renew(self, run_id: str) -> None:
        self._tried[run_id] = time.monotonic()
        record = self.identity.owner(self._clock(), self.interval_s)
        try:
            async with asyncio.timeout(self.interval_s * 2):
                ours = await self.history.renew_run_owner(run_id, record)
        except (HistoryError, TimeoutError) as exc:  # unreachable: try again next beat
            log.info("run %s: heartbeat not written: %s", run_id, exc or "timed out")
            return
        self.beats += 1
        if ours or run_id not in self._held:
            return
        del self._held[run_id]
        self._tried.pop(run_id, None)
        log.warning("run %s was taken over by another process while this one was not "
                    "heard from; stopping work on it", run_id)
        if self.on_lost is not None:
            self.on_lost(run_id)
