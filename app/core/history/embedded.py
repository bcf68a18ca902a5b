"""The embedded history server: nx-27017 (MongoDB's wire protocol over SQLite) in a child process.

With no ``MONGODB_URI`` the app keeps history in ``STORYREEL_HOME/db/`` through
an nx-27017 server that it starts as a child process of its own, listening on
127.0.0.1 on a port the system picks. The app's store talks to it through
``pymongo.AsyncMongoClient`` exactly as it would talk to a real MongoDB (see
``mongo.py``).

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

- tells the parent through a pipe that it listens, on which port, or why it
  cannot;
- stops cleanly when the parent asks through that pipe, when the pipe breaks
  or its parent changes (the app ended without stopping it, even by SIGKILL),
  and on SIGTERM;
- ignores SIGINT: Ctrl+C in a terminal reaches the whole process group, and
  the app, still writing its last changes, stops the server itself.

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
import signal
import sys
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from app.core.errors import HistoryError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DB_FILE = "history.db"
PROCESS_NAME = "storyreel-history-db"
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

    Stopped and started again, it listens on the same port, so clients
    reconnect by themselves (the fault tests rely on this).
    """

    def __init__(self, folder: Path, *, port: int = 0, start_timeout_s: float = 10.0) -> None:
        self.folder = Path(folder)
        self.db_path = self.folder / DB_FILE
        self.host = HOST
        self.port = port
        self._start_timeout_s = start_timeout_s
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    @property
    def uri(self) -> str:
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
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(
                    f"cannot create the history folder {self.folder}: {exc.strerror}") from None
            try:
                os.chmod(self.folder, 0o700)  # history is private to its user
            except OSError as exc:  # a file system without modes: the folder still works
                log.debug("history: cannot restrict %s: %s", self.folder, exc.strerror)
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            process = context.Process(
                target=serve, name=PROCESS_NAME, daemon=True,
                args=(str(self.db_path), self.host, self.port, theirs, os.getpid()))
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
            self.port = detail
            log.info("history: embedded server (process %s) on %s:%d, data in %s",
                     process.pid, self.host, self.port, self.db_path)

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
        return exitcode


def _answer(conn: Connection, timeout_s: float) -> tuple[str, Any]:
    """The child's first word: ("ready", port) or ("error", reason); ("ended", None) when
    it ended without one, ("silent", None) when it said nothing within ``timeout_s``."""
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

def serve(db_path: str, host: str, port: int, conn: Connection, parent_pid: int) -> None:
    """The server process's main: serve until the parent says stop or is gone."""
    _leave_the_terminal_to_the_parent()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="storyreel history server: %(levelname)s %(name)s: %(message)s")
    # A plain selector loop whatever the policy (the parent's __main__, imported again
    # here by spawn, may have set one).
    loop = asyncio.SelectorEventLoop()
    asyncio.set_event_loop(loop)
    clients: dict[asyncio.Task, asyncio.StreamWriter] = {}
    try:
        handler, server = loop.run_until_complete(_open(Path(db_path), host, port, clients))
    except Exception as exc:  # any reason not to serve goes to the parent, which says it
        loop.close()
        _tell(conn, ("error", _reason(exc)))
        return
    try:
        if not _tell(conn, ("ready", server.sockets[0].getsockname()[1])):
            return  # the parent is gone already
        if sys.platform != "win32":
            loop.add_signal_handler(signal.SIGTERM, loop.stop)
        threading.Thread(target=_watch_parent, args=(conn, parent_pid, loop),
                         name="parent-watch", daemon=True).start()
        loop.run_forever()
    finally:
        loop.run_until_complete(_shut(server, clients, loop))
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


async def _open(db_path: Path, host: str, port: int,
                clients: dict[asyncio.Task, asyncio.StreamWriter]) -> tuple[Any, asyncio.Server]:
    from nx_27017.handler import NeoSQLiteHandler
    from nx_27017.server import handle_client

    _quiet_fallback_notices()
    handler = NeoSQLiteHandler(str(db_path))
    _tune(handler)

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
        server = await asyncio.start_server(connected, host, port)
    except BaseException:
        handler.close_all()
        raise
    return handler, server


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
