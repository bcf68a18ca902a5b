"""A journal on disk of the history changes that are waiting for their server.

While MongoDB (or the embedded server) cannot be reached, the store keeps its
changes in order and writes them when the server is back (``writes.py``).
Kept in memory only, they would be lost when the app exits during the
outage, and the run would then look unfinished: ``resume`` would render (and
on RunPod pay for) it again. So each kept change is also appended, as data,
to a journal file in the data folder, and fsync'd before the write counts as
kept; the next store opened on the same database replays it, in order, then
removes it. Replaying is harmless when some of it was written already: every
change replaces a document by key, or sets fields of one.

Layout: ``STORYREEL_HOME/journal/`` (0700) holds one file per process and
database, ``<database>-<pid>-<random>.jsonl`` (0600), where ``<database>``
is a hash of what identifies the database (the embedded store's folder, or
the hosts and name of a MongoDB database; never a password). A file is
created only when the first change is kept, and removed as soon as every kept
change is written. Its owner holds an exclusive lock on it (``flock``), so a
second process on the same database (the window and a terminal) replays only
the journals of processes that are gone, never one still being written.

Each line is one change in MongoDB Extended JSON (dates stay dates):
``{"seq": n, "key": ..., "what": ..., "op": ..., "collection": ...,
"filter": {...}, "update": {...}}``. A last line cut short (the app was
killed while appending it) is skipped with a warning; so is any other line
that cannot be read. The documents are a run's and its shots' fields, the
same as the database holds: no keys or passwords.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from bson import json_util
from bson.errors import InvalidBSON
from bson.json_util import RELAXED_JSON_OPTIONS, JSONMode, JSONOptions

from app.core.files import private_dir

try:  # POSIX; on Windows a journal is not locked (see ``_lock``)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FOLDER = "journal"
SUFFIX = ".jsonl"
_READ = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=True)


def database_id(identity: str) -> str:
    """A short, stable, file-name-safe name for a database (``identity`` is hashed)."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


class Journal:
    """This process's journal of kept changes for one database.

    ``folder`` is ``STORYREEL_HOME/journal``; ``identity`` says which database
    (hashed into the file names). Not thread-safe: one event loop uses it.
    """

    def __init__(self, folder: Path, identity: str) -> None:
        self.folder = Path(folder)
        self.database = database_id(identity)
        self._fd: int | None = None
        self._path: Path | None = None
        self.entries = 0  # lines appended to the current file
        # Lines may be appended from a thread (``append_lines``) while the event loop
        # empties or removes the file: one at a time.
        self._using = threading.RLock()

    @property
    def path(self) -> Path | None:
        """The file kept changes are in, while there is one."""
        return self._path

    def append(self, entry: Mapping[str, Any], *, sync: bool = True) -> None:
        """Add one change and fsync it. Raises ``OSError`` (disk full, read-only folder).

        ``sync=False`` leaves out the fsync: the line is then safe from the process being
        killed (the system holds it) but not from the machine losing power. For changes
        written to the server moments later (``OrderedWrites``' writes ``later``)."""
        self.append_lines([line_of(entry)], sync=sync)

    def append_lines(self, lines: list[bytes], *, sync: bool = False) -> None:
        """Add changes already made lines (``line_of``), in one write: what
        ``OrderedWrites`` does from a thread of its own, so that a busy disk never
        holds up the event loop (one caller at a time). Raises ``OSError``."""
        with self._using:
            if self._fd is None:
                self._create()
            assert self._fd is not None
            view = memoryview(b"".join(lines))
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            if sync:
                os.fsync(self._fd)
            self.entries += len(lines)

    def clear(self) -> None:
        """Every kept change is written: empty the file, remove it, release it."""
        with self._using:
            self._clear()

    def _clear(self) -> None:
        if self._fd is None:
            return
        path = self._path
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # a process that opened it meanwhile reads nothing
        with contextlib.suppress(OSError):
            if path is not None:
                path.unlink()
        self._release()

    def empty(self) -> None:
        """Every change in the file is written: empty it, but keep it (and its lock) for the
        next ones. Cheaper than ``clear`` when changes keep coming (a run in progress)."""
        with self._using:
            if self._fd is None or not self.entries:
                return
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                self._clear()
                return
            self.entries = 0

    def close(self) -> Path | None:
        """Stop writing; the file (if any) stays for the next start. Returns its path."""
        path = self._path if self.entries else None
        if self._fd is not None and not self.entries:
            self.clear()
        self._release()
        return path

    def _create(self) -> None:
        private_dir(self.folder)
        name = f"{self.database}-{os.getpid()}-{secrets.token_hex(4)}"
        # Locked under a name no replay looks at, then renamed: another process never
        # sees this journal unlocked.
        staging = self.folder / f"{name}.new"
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            _lock(fd, wait=True)
            path = self.folder / f"{name}{SUFFIX}"
            os.replace(staging, path)
            _sync_folder(self.folder)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                staging.unlink()
            raise
        self._fd, self._path, self.entries = fd, path, 0

    def _release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing releases the lock
        self._fd, self._path, self.entries = None, None, 0

    def leftovers(self) -> list[Path]:
        """Journals of this database that earlier processes left, oldest first."""
        try:
            found = [p for p in self.folder.glob(f"{self.database}-*{SUFFIX}")
                     if p != self._path]
        except OSError:
            return []
        return sorted(found, key=_mtime)

    async def replay(self, apply: Callable[[dict[str, Any]], Awaitable[None]]) -> int:
        """Apply every change in the journals earlier processes left, in order, and remove
        each journal once it is applied. Journals still locked by a live process are left
        alone. Returns how many changes were applied.

        What ``apply`` raises stops the replay and the journal stays (the server went
        away again); ``apply`` itself decides which refusals to skip.
        """
        applied = 0
        for path in self.leftovers():
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # replayed by another process meanwhile
            try:
                if not _lock(fd, wait=False) or not _same_file(fd, path):
                    continue  # its process is alive, or it was just replayed and removed
                entries = read_entries(path)
                if entries:
                    log.info("history: replaying %d change(s) kept in %s", len(entries), path)
                for entry in entries:
                    await apply(entry)
                    applied += 1
                os.ftruncate(fd, 0)
                path.unlink()
            finally:
                os.close(fd)
        return applied


def line_of(entry: Mapping[str, Any]) -> bytes:
    """One change as a journal line."""
    return (json_util.dumps(entry, json_options=RELAXED_JSON_OPTIONS) + "\n").encode()


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The changes in a journal file, in the order they were made. Lines that cannot be
    read (a last line cut short by a kill) are skipped with a warning."""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json_util.loads(line.decode("utf-8"), json_options=_READ)
            if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
                raise ValueError("not a journal entry")
        except (ValueError, UnicodeDecodeError, InvalidBSON, TypeError) as exc:
            last = number == len(lines)  # no newline after it: it was being written
            log.warning("history: %s line %d of %s skipped (%s)",
                        "unfinished last" if last else "unreadable", number, path,
                        type(exc).__name__)
            continue
        entries.append(entry)
    entries.sort(key=lambda e: e["seq"])  # the order the changes were made
    return entries


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _lock(fd: int, *, wait: bool) -> bool:
    """An exclusive lock on the open file; False when another process holds it.

    Without ``fcntl`` (Windows) there is no lock: a journal is then replayed by the
    next store that opens, even if its process still runs (replaying is idempotent,
    but may set a document back until that process writes it again).
    """
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except OSError:
        return False


def _sync_folder(folder: Path) -> None:
    """Make a new file's name durable too (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
