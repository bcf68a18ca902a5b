"""The embedded history server: nx-27017 (MongoDB's wire protocol over SQLite) in a child process.

With no ``MONGODB_URI`` the app keeps history in ``STORYREEL_HOME/db/`` through
an nx-27017 server that it starts as a child process of its own. The app's
store talks to it through ``pymongo.AsyncMongoClient`` exactly as it would talk
to a real MongoDB (see ``mongo.py``).

Only its user can reach it. nx-27017 has no login of any kind (no
``saslStart``, no users), so whoever can open a connection to it can read and
rewrite every run. On Linux and macOS it therefore listens on a Unix socket,
never on a TCP port: the socket sits in the ``db`` folder, which is 0700, and
is itself 0600 (Linux checks a socket's mode on ``connect``; some BSD-derived
systems do not, which is why the folder matters), so another user's ``connect``
is refused by the system.
A socket path is at most 107 bytes (103 on macOS): when the ``db`` folder is
too deep, or cannot be written (a read-only data folder), the socket goes to a
0700 folder of ours instead, ``$XDG_RUNTIME_DIR/storyreel`` or else
``storyreel-<uid>`` in the temporary folder, used only when it is a real
folder (not a symlink) owned by this user and closed to everyone else; failing
that, a fresh ``mkdtemp`` folder. Each server has a socket name of its own
(``history-<random>.sock``), so two apps on one data folder never take each
other's, and keeps it when it is started again, so clients reconnect by
themselves. The address is logged at debug level only.

On Windows asyncio has no Unix server and PyMongo no Unix socket, so the
server listens on 127.0.0.1 as before, on a port the system picks. Nothing
there keeps another local user out of the port: a per-launch secret would need
the server to check credentials, and nx-27017 checks none (its handler has no
authentication commands at all). What protects history on Windows is what
protects the rest of a profile: with the data folder in the user's profile,
its ACL keeps other users from the SQLite file itself; a machine shared with
users who must not see it should keep history in a MongoDB with a password
(``MONGODB_URI``).

The database file is 0600 (the server runs with umask 077, and an older file
loses its group and world bits). When the file or its folder cannot be written
(a read-only disk, a folder made read-only on purpose) the server opens the
file read-only (SQLite's ``immutable=1``, or ``mode=ro`` when a write-ahead log
was left behind; see ``_sqlite_read_only``) and says so: ``read_only`` holds
the reason, reads work, and the store refuses every write with it. The socket
then goes to the private folder above.

Why a process and not a thread: nx-27017 and neosqlite are pure Python, so on a
thread of the app every request they answered held the GIL against the GUI
thread, which then waited for it up to the interpreter's 5 ms switch interval
each time it wanted it back. With 200 shots landing (``benchmarks/ui.py``) the
window's 5 ms heartbeat missed its beat by tens of milliseconds (issue 6).

The packaged app has no separate server executable, so the child is started with
``multiprocessing``'s spawn context: a fresh interpreter (the frozen app itself,
whose entry point calls ``multiprocessing.freeze_support()``) that runs
``serve``. It builds the server from nx-27017's own parts (its
``NeoSQLiteHandler`` and its ``handle_client`` connection loop) on an
``asyncio`` server we own, which is what lets it stop cleanly. The child

- tells the parent through a pipe that it listens (and whether read-only), or
  why it cannot;
- stops cleanly when the parent asks through that pipe, when the pipe breaks
  or its parent changes (the app ended without stopping it, even by SIGKILL),
  and on SIGTERM;
- ignores SIGINT: Ctrl+C in a terminal reaches the whole process group, and
  the app, still writing its last changes, stops the server itself.

A server that dies on its own (killed, out of memory) is started again on the
same address by the store that owns it (``EmbeddedHistory`` in ``factory.py``
watches ``died``); the changes held meanwhile are then written.

Two apps on one data folder (the window and a ``storyreel history`` in a
terminal) each start a server of their own on the same SQLite file; SQLite's
locking keeps them consistent.

As with any spawned ``multiprocessing`` child, the child first imports the
script that started the app (not a ``-m`` package's ``__main__``, not ``-c``
code): a script that opens the embedded history must keep its work under
``if __name__ == "__main__":``. Every entry point of ours does.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import secrets
import signal
import stat
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.core.errors import HistoryError
from app.core.files import PRIVATE_DIR, PRIVATE_FILE, tighten

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DB_FILE = "history.db"
PROCESS_NAME = "storyreel-history-db"
# Unix sockets where asyncio and PyMongo both have them (see the module docstring).
UNIX_SOCKETS = sys.platform != "win32"
SOCKET_PREFIX = "history-"
# sun_path holds 108 bytes on Linux and 104 on macOS, its final NUL included.
MAX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107
_STOP = "stop"
_HANG_UP_S = 2.0  # how long connections get to finish a request when stopping
_WATCH_S = 1.0  # how often the child checks that its parent is still there
_CACHE_KIB = 64 * 1024
_MMAP_BYTES = 256 * 1024 * 1024


class EmbeddedServer:
    """nx-27017 in a child process. ``start()`` returns once it is listening;
    ``stop()`` closes connections, waits for requests in flight, closes the
    database and ends the process. Both block briefly: from a coroutine, call
    them through ``asyncio.to_thread`` (``astart``/``astop`` do that).

    Stopped and started again, it listens on the same address (the same socket
    path, or on Windows the same port), so clients reconnect by themselves.
    ``unix=False`` serves on 127.0.0.1 as on Windows (for tests of that path).
    """

    def __init__(self, folder: Path, *, port: int = 0, unix: bool = UNIX_SOCKETS,
                 start_timeout_s: float = 10.0) -> None:
        self.folder = Path(folder)
        self.db_path = self.folder / DB_FILE
        self.host = HOST
        self.port = port
        self.unix = unix
        self.socket_path: Path | None = None  # chosen at the first start, then kept
        self.read_only: str | None = None  # why the database cannot be written, if so
        self._start_timeout_s = start_timeout_s
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def died(self) -> bool:
        """The server ended without being asked to (killed, crashed): start it again."""
        if not self._lock.acquire(blocking=False):
            return False  # starting or stopping right now
        try:
            return self._process is not None and not self._process.is_alive()
        finally:
            self._lock.release()

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    @property
    def uri(self) -> str:
        if self.unix:
            if self.socket_path is None:
                raise HistoryError("the embedded history server has not started")
            return f"mongodb://{quote(str(self.socket_path), safe='')}/?directConnection=true"
        if not self.port:
            raise HistoryError("the embedded history server has not started")
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def start(self) -> None:
        """Start serving; raises ``HistoryError`` saying why when it cannot."""
        with self._lock:
            if self.running:
                return
            self._end()  # one that died by itself: collect it
            try:
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(
                    f"cannot create the history folder {self.folder}: {exc.strerror}") from None
            tighten(self.folder, PRIVATE_DIR)
            read_only = _unwritable(self.folder, self.db_path)
            if read_only and not self.db_path.exists():
                raise HistoryError(f"cannot create the history database: {read_only}")
            if self.unix and self.socket_path is None:
                self.socket_path = socket_path_for(self.folder)
            address: str | tuple[str, int] = (
                str(self.socket_path) if self.unix else (self.host, self.port))
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            process = context.Process(
                target=serve, name=PROCESS_NAME, daemon=True,
                args=(str(self.db_path), address, read_only, theirs, os.getpid()))
            try:
                process.start()
            except Exception as exc:  # no process could be made (out of memory, limits)
                ours.close()
                raise HistoryError("the embedded history server cannot start: "
                                   f"{_reason(exc)}") from None
            finally:
                theirs.close()  # the child has its own end: ours alone now sees it hang up
            self._process, self._conn = process, ours
            word, detail = _answer(ours, self._start_timeout_s)
            if word != "ready":
                exitcode = self._end(timeout_s=1.0)
                raise HistoryError(_failure(word, detail, exitcode, self._start_timeout_s))
            self.port, self.read_only = detail["port"], detail["read_only"]
            log.debug("history: embedded server (process %s) at %s, data in %s%s",
                      process.pid, self.socket_path or f"{self.host}:{self.port}",
                      self.db_path, " (read-only)" if self.read_only else "")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving (idempotent)."""
        with self._lock:
            self._end(timeout_s=timeout_s)

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def _end(self, *, timeout_s: float = 10.0) -> int | None:
        """Ask the process to stop, wait for it (end it if it does not), free both ends.
        Returns its exit code."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None or conn is None:
            return None
        if process.is_alive():
            try:
                conn.send(_STOP)
            except OSError:  # it is ending already
                pass
            process.join(timeout_s)
            if process.is_alive():
                log.error("history: the embedded server did not stop within %g s; ending it",
                          timeout_s)
                process.kill()
                process.join(timeout_s)
        conn.close()
        exitcode = process.exitcode
        if exitcode is not None:
            process.close()
            _remove_socket(self.socket_path)  # a killed server leaves its socket behind
        return exitcode


# Where the socket goes, and what may be written.

def _unwritable(folder: Path, db_path: Path) -> str | None:
    """Why the database cannot be written, or None when it can."""
    if db_path.exists() and not os.access(db_path, os.W_OK):
        return f"{db_path} cannot be written"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} cannot be written"
    return None


def socket_path_for(folder: Path) -> Path:
    """A socket path of this server's own: in ``folder`` when it can be written and the
    path fits, else in a private folder of ours with a shorter path."""
    name = socket_name()
    at_home = folder.absolute() / name
    if _fits(at_home) and os.access(folder, os.W_OK | os.X_OK):
        return at_home
    for base in _private_bases():
        if _fits(base / name) and _is_ours_alone(base):
            return base / name
    fresh = Path(tempfile.mkdtemp(prefix="storyreel-"))  # 0700, made just now
    if _fits(fresh / name):
        return fresh / name
    raise HistoryError(
        f"no private folder has a path short enough for the history server's socket "
        f"(at most {MAX_SOCKET_PATH} bytes); set TMPDIR to a shorter folder")


def socket_name() -> str:
    """A name no other server takes: random, not the process id, which two containers
    sharing one data folder may both have."""
    return f"{SOCKET_PREFIX}{secrets.token_hex(6)}.sock"


def _fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH


def _private_bases() -> list[Path]:
    bases = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_absolute() and _is_ours_alone(Path(runtime)):
        bases.append(Path(runtime) / "storyreel")
    bases.append(Path(tempfile.gettempdir()) / f"storyreel-{os.geteuid()}")
    for base in bases:
        try:
            base.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            log.debug("history: cannot make %s: %s", base, exc.strerror)
    return bases


def _is_ours_alone(folder: Path) -> bool:
    """A real folder (not a symlink) owned by this user that nobody else may enter."""
    try:
        info = folder.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
            and not info.st_mode & 0o077)


def _remove_socket(path: Path | None) -> None:
    if path is None:
        return
    try:
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
    except OSError:
        pass


def _answer(conn: Connection, timeout_s: float) -> tuple[str, Any]:
    """The child's first word: ("ready", {port, read_only}) or ("error", reason); ("ended",
    None) when it ended without one, ("silent", None) when it said nothing in ``timeout_s``."""
    try:
        if not conn.poll(timeout_s):
            return "silent", None
        return conn.recv()
    except (EOFError, OSError):
        return "ended", None


def _failure(word: str, detail: Any, exitcode: int | None, timeout_s: float) -> str:
    if word == "error":
        return f"the embedded history server cannot start: {detail}"
    if word == "silent":
        return f"the embedded history server did not start within {timeout_s:g} s"
    return ("the embedded history server cannot start: its process ended before it was "
            f"ready (exit code {exitcode}; its own messages are on standard error)")


# The child process.

def serve(db_path: str, address: str | tuple[str, int], read_only: str | None,
          conn: Connection, parent_pid: int) -> None:
    """The server process's main: serve until the parent says stop or is gone.
    ``address`` is a socket path or (host, port); ``read_only`` why the database
    cannot be written (it is then opened read-only), or None."""
    _leave_the_terminal_to_the_parent()
    if hasattr(os, "umask"):
        os.umask(0o077)  # the database, its journal files and the socket: ours alone
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="storyreel history server: %(levelname)s %(name)s: %(message)s")
    # A plain selector loop whatever the policy (the parent's __main__, imported again
    # here by spawn, may have set one).
    loop = asyncio.SelectorEventLoop()
    asyncio.set_event_loop(loop)
    clients: dict[asyncio.Task, asyncio.StreamWriter] = {}
    try:
        handler, server, read_only = loop.run_until_complete(
            _open(Path(db_path), address, read_only, clients))
    except Exception as exc:  # any reason not to serve goes to the parent, which says it
        loop.close()
        _tell(conn, ("error", _reason(exc)))
        return
    try:
        port = server.sockets[0].getsockname()[1] if isinstance(address, tuple) else 0
        if not _tell(conn, ("ready", {"port": port, "read_only": read_only})):
            return  # the parent is gone already
        if sys.platform != "win32":
            loop.add_signal_handler(signal.SIGTERM, loop.stop)
        threading.Thread(target=_watch_parent, args=(conn, parent_pid, loop),
                         name="parent-watch", daemon=True).start()
        loop.run_forever()
    finally:
        loop.run_until_complete(_shut(server, clients, loop))
        if isinstance(address, str):
            _remove_socket(Path(address))
        loop.close()
        handler.close_all()
        conn.close()


def _leave_the_terminal_to_the_parent() -> None:
    """Ctrl+C is for the app, which stops this server once its last changes are written;
    nothing of this process may land in the app's standard output (``--json`` lines)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
    except OSError:  # no such device: nothing would be written there anyway
        pass


def _tell(conn: Connection, message: tuple[str, Any]) -> bool:
    try:
        conn.send(message)
        return True
    except OSError:
        return False


def _watch_parent(conn: Connection, parent_pid: int, loop: asyncio.AbstractEventLoop) -> None:
    """Wait until the parent says stop, hangs up (it ended, however), or is no longer the
    parent (it ended while something else still holds its end); then stop the server."""
    while True:
        try:
            if conn.poll(_WATCH_S):
                conn.recv()  # the only word after "ready" is stop
                break
        except (EOFError, OSError):
            break
        if sys.platform != "win32" and os.getppid() != parent_pid:
            break
    try:
        loop.call_soon_threadsafe(loop.stop)
    except RuntimeError:  # the loop is closed: the server has stopped already
        pass


async def _open(db_path: Path, address: str | tuple[str, int], read_only: str | None,
                clients: dict[asyncio.Task, asyncio.StreamWriter],
                ) -> tuple[Any, asyncio.Server, str | None]:
    from nx_27017.server import handle_client

    _quiet_fallback_notices()
    handler, read_only = _handler(db_path, read_only)
    _tune(handler)
    for path in (db_path, *(db_path.with_name(db_path.name + end) for end in ("-wal", "-shm"))):
        if path.exists():
            tighten(path, PRIVATE_FILE)

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        clients[task] = writer
        try:
            await handle_client(reader, writer, handler)
        except asyncio.CancelledError:
            # Only our own shutdown cancels a connection; ending normally keeps
            # Python 3.11's stream callback from logging the cancellation as an error.
            pass
        finally:
            clients.pop(task, None)

    try:
        if isinstance(address, str):
            # A socket left by a server of ours that was killed is replaced (asyncio
            # removes a stale socket file at the path); umask 077 made it 0600, and
            # the chmod says so on systems whose umask does not reach sockets.
            server = await asyncio.start_unix_server(connected, path=address)
            os.chmod(address, 0o600)
        else:
            server = await asyncio.start_server(connected, *address)
    except BaseException:
        handler.close_all()
        raise
    return handler, server, read_only


def _handler(db_path: Path, read_only: str | None) -> tuple[Any, str | None]:
    """nx-27017's request handler on the database, read-write when it can be written."""
    from neosqlite._sqlite import sqlite3
    from nx_27017.handler import NeoSQLiteHandler

    if read_only is None:
        try:
            return NeoSQLiteHandler(str(db_path)), None
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc):
                raise
            read_only = f"{db_path} cannot be written ({exc})"
    return _read_only_handler(db_path), read_only


def _read_only_handler(db_path: Path) -> Any:
    """The handler on a database opened read-only. nx-27017 opens its file through
    neosqlite's ``Connection``, whose set-up pragmas (``auto_vacuum``) are writes that
    SQLite refuses on a read-only file, so the handler is built here around a
    connection that skips them; reads work, writes get SQLite's refusal."""
    import nx_27017.handler as nx_handler
    from neosqlite import Connection

    class ReadOnlyConnection(Connection):
        def connect(self, *args: Any, **kwargs: Any) -> None:
            self.db = _sqlite_read_only(db_path)
            self.db.isolation_level = None
            self._register_custom_functions()

    made = nx_handler.Connection
    nx_handler.Connection = ReadOnlyConnection  # this process serves this one database
    try:
        return nx_handler.NeoSQLiteHandler(str(db_path))
    finally:
        nx_handler.Connection = made


def _sqlite_read_only(db_path: Path) -> Any:
    """SQLite's read-only open. A database closed cleanly has no write-ahead log left,
    and is opened ``immutable``: read as it is, with nothing created beside it (a
    read-only ``mode=ro`` open of a WAL database makes ``-wal`` and ``-shm`` files
    where it can, with the database's own read-only mode, which would then stand in
    the way once the file is writable again, and fails where it cannot). Nothing of
    ours writes a file we cannot write, so the file does not change under us. When a
    log is left over (an app that was killed), ``mode=ro`` reads it too."""
    from neosqlite._sqlite import sqlite3

    uri = db_path.absolute().as_uri()
    wal = db_path.with_name(db_path.name + "-wal")
    logged = wal.exists() and wal.stat().st_size > 0
    failure: Exception | None = None
    for options in (("mode=ro",) if logged else ()) + ("mode=ro&immutable=1",):
        db = sqlite3.connect(f"{uri}?{options}", uri=True, check_same_thread=False)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            db.close()
            failure = exc
            continue
        if logged and "immutable" in options:
            log.warning("reading %s without its write-ahead log, which cannot be opened "
                        "read-only here: its latest changes may be missing", db_path)
        return db
    assert failure is not None
    raise failure


async def _shut(server: asyncio.Server, clients: dict[asyncio.Task, asyncio.StreamWriter],
                loop: asyncio.AbstractEventLoop) -> None:
    server.close()
    # Hang up on every client: each connection loop then sees the end of its stream
    # and returns, after answering the request it may be in the middle of.
    for writer in clients.values():
        writer.close()
    tasks = list(clients)
    if tasks:
        _, stuck = await asyncio.wait(tasks, timeout=_HANG_UP_S)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
    await server.wait_closed()
    await loop.shutdown_default_executor()  # requests already handed to SQLite finish


def _tune(handler: Any) -> None:
    """A search reads every run document: let SQLite keep the file mapped and cached
    rather than read it again each time (measured: a 10,000-run scan 200 -> 90 ms)."""
    try:
        handler.conn.db.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        handler.conn.db.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
    except Exception as exc:  # only speed is at stake
        log.debug("history: could not tune the embedded database: %s", exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        return f"nx-27017 is not installed with this app ({exc.name})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


class _Demote(logging.Filter):
    """neosqlite warns each time it evaluates a pipeline in Python rather than SQL
    (every ``count_documents`` does); the answer is right, so those become DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if record.levelno == logging.WARNING and ("fallback" in message
                                                  or "aggregation error" in message):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_FALLBACK_LOGGERS = (
    "neosqlite.collection.query_engine",
    "neosqlite.collection.temporary_table_aggregation.manager",
)


def _quiet_fallback_notices() -> None:
    for name in _FALLBACK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Demote) for f in logger.filters):
            logger.addFilter(_Demote())
