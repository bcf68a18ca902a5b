"""The embedded history server: nx-27017 (MongoDB's wire protocol over SQLite) in-process.

With no ``MONGODB_URI`` the app keeps history in ``STORYREEL_HOME/db/`` through
an nx-27017 server that runs inside this process, on a thread of its own with
its own event loop, listening on 127.0.0.1 on a port the system picks. The
packaged app has no separate executable to launch, so nothing is shelled out:
the server is built from nx-27017's own parts (its ``NeoSQLiteHandler`` and
its ``handle_client`` connection loop) on an ``asyncio`` server we own, which
is what lets us stop it cleanly.

The app's store talks to it through ``pymongo.AsyncMongoClient`` exactly as it
would talk to a real MongoDB (see ``mongo.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import Any

from app.core.errors import HistoryError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DB_FILE = "history.db"
_HANG_UP_S = 2.0  # how long connections get to finish a request when stopping
_CACHE_KIB = 64 * 1024
_MMAP_BYTES = 256 * 1024 * 1024


class EmbeddedServer:
    """nx-27017 on a background thread. ``start()`` returns once it is listening;
    ``stop()`` closes connections, waits for requests in flight, closes the
    database and ends the thread. Both block briefly: from a coroutine, call
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
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: str | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

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
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(
                    f"cannot create the history folder {self.folder}: {exc.strerror}") from None
            try:
                os.chmod(self.folder, 0o700)  # history is private to its user
            except OSError as exc:  # a file system without modes: the folder still works
                log.debug("history: cannot restrict %s: %s", self.folder, exc.strerror)
            self._ready.clear()
            self._error = None
            self._thread = threading.Thread(target=self._serve, name="storyreel-history-db",
                                            daemon=True)
            self._thread.start()
            if not self._ready.wait(self._start_timeout_s):
                raise HistoryError("the embedded history server did not start within "
                                   f"{self._start_timeout_s:g} s")
            if self._error is not None:
                self._thread.join()
                self._thread = None
                raise HistoryError(f"the embedded history server cannot start: {self._error}")
            log.info("history: embedded server on %s:%d, data in %s",
                     self.host, self.port, self.db_path)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving (idempotent)."""
        with self._lock:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None:
                return
            if thread.is_alive():
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout_s)
            if thread.is_alive():
                log.error("history: the embedded server did not stop within %g s", timeout_s)
            self._thread = None

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    # The server thread.

    def _serve(self) -> None:
        # A plain loop whatever the process's event loop policy is (qasync's would give
        # this thread a Qt loop that never runs).
        loop = asyncio.SelectorEventLoop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        clients: dict[asyncio.Task, asyncio.StreamWriter] = {}
        try:
            handler, server = loop.run_until_complete(self._open(clients))
        except Exception as exc:  # any reason not to serve is reported by start()
            self._error = _reason(exc)
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(_shut(server, clients, loop))
            loop.close()
            handler.close_all()

    async def _open(self, clients: dict[asyncio.Task, asyncio.StreamWriter]
                    ) -> tuple[Any, asyncio.Server]:
        from nx_27017.handler import NeoSQLiteHandler
        from nx_27017.server import handle_client

        _quiet_fallback_notices()
        handler = NeoSQLiteHandler(str(self.db_path))
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
            server = await asyncio.start_server(connected, self.host, self.port)
        except BaseException:
            handler.close_all()
            raise
        self.port = server.sockets[0].getsockname()[1]
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
