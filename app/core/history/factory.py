"""Choosing and opening the history store: MongoDB when configured, else embedded.

``open_history(settings)`` is the one way the app gets its history. It never
fails the app: when the store cannot be opened (MongoDB unreachable, bad
credentials, the embedded server cannot start, a database from a newer app)
it returns an ``UnavailableHistory`` that says why. Runs still work with it;
they are just not kept (a command then ends non-zero, and a paid run does not
start), and anything that reads history gets a ``HistoryError`` carrying that
reason. Each store gets a journal in ``STORYREEL_HOME/journal`` for the changes
it keeps while its server is away (``journal.py``). Close the store with ``aclose()``:
for the embedded store that also stops its server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from app.core.errors import HistoryError
from app.core.history import DayUsage, HistoryStore
from app.core.history.documents import SCHEMA_VERSION
from app.core.history.embedded import EmbeddedServer
from app.core.history.journal import FOLDER as JOURNAL_FOLDER
from app.core.history.journal import Journal
from app.core.history.migrations import stored_version
from app.core.history.mongo import MongoHistory
from app.core.history.writes import Change
from app.core.models import Run, RunOwner, Shot
from app.core.settings import Settings
from app.core.urls import display_host

log = logging.getLogger(__name__)

REMOTE_TIMEOUT_S = 5.0  # MongoDB / Atlas: long enough for a first TLS handshake
EMBEDDED_TIMEOUT_S = 2.0  # the embedded server is a child process on this machine
REVIVED_FLUSH_S = 30.0  # held changes going to an embedded server that runs again


def embedded_folder(settings: Settings) -> Path:
    return settings.db_dir


async def open_history(settings: Settings, *, strict: bool = False,
                       timeout_s: float | None = None) -> HistoryStore:
    """The started store the settings ask for.

    With ``strict`` a store that cannot be opened raises ``HistoryError``
    (for ``doctor``); otherwise it comes back as an ``UnavailableHistory``.
    ``timeout_s`` bounds each wait for the server (defaults above).
    """
    try:
        if settings.mongodb_uri is not None:
            uri = settings.mongodb_uri.get_secret_value()
            return await open_mongodb(uri, settings.mongodb_db,
                                      timeout_s=timeout_s or REMOTE_TIMEOUT_S,
                                      journal=history_journal(settings))
        return await open_embedded(embedded_folder(settings), settings.mongodb_db,
                                   timeout_s=timeout_s or EMBEDDED_TIMEOUT_S,
                                   journal=history_journal(settings))
    except HistoryError as exc:
        if strict:
            raise
        log.warning("%s", exc)
        return UnavailableHistory(str(exc))


def history_journal(settings: Settings) -> Journal:
    """Where changes kept during an outage of this database wait on disk (``journal.py``):
    named after the embedded folder, or the MongoDB hosts and database (no credentials)."""
    if settings.mongodb_uri is not None:
        identity = f"mongodb {display_host(settings.mongodb_uri.get_secret_value())} " \
                   f"{settings.mongodb_db}"
    else:
        identity = f"embedded {embedded_folder(settings).absolute()} {settings.mongodb_db}"
    return Journal(settings.home / JOURNAL_FOLDER, identity)


async def open_mongodb(uri: str, db_name: str = "storyreel", *,
                       timeout_s: float = REMOTE_TIMEOUT_S, **kwargs: Any) -> MongoHistory:
    """A started store on the MongoDB server at ``uri``. Raises ``HistoryError``."""
    store = MongoHistory.connect(uri, db_name, timeout_s=timeout_s, **kwargs)
    await _start(store)
    return store


async def open_embedded(folder: Path, db_name: str = "storyreel", *,
                        timeout_s: float = EMBEDDED_TIMEOUT_S,
                       **kwargs: Any) -> EmbeddedHistory:
    """Start the embedded server on ``folder`` and a store on it; closing the store
    stops the server. Raises ``HistoryError``."""
    server = EmbeddedServer(folder)
    await server.astart()
    store = EmbeddedHistory.connect(
        server.uri, db_name,
        where="the embedded history server",
        kind=f"embedded ({folder}{', read-only' if server.read_only else ''})",
        timeout_s=timeout_s,
        server=server,
        **kwargs,
    )
    await _start(store)
    return store


class EmbeddedHistory(MongoHistory):
    """A ``MongoHistory`` on the embedded server it owns.

    It keeps its server running: a server that died (killed, crashed) is started
    again on the same address within ``watch_s``, and the changes held meanwhile are
    written. On a database that cannot be written (``read_only`` says why) reads work
    and every write raises ``HistoryError`` ("history is read-only: ...").
    ``aclose()`` stops the server.
    """

    WATCH_S = 0.5  # how often the store looks at its server; a process check, cheap

    def __init__(self, client: Any, db_name: str, *, server: EmbeddedServer,
                 watch_s: float = WATCH_S, **kwargs: Any) -> None:
        super().__init__(client, db_name, on_close=self._stop_server, **kwargs)
        self.server = server
        self.restarts = 0  # how many times its server was started again
        self._watch_s = watch_s
        self._watcher: asyncio.Task | None = None
        self._reviving = asyncio.Lock()

    @property
    def read_only(self) -> str | None:
        """Why history cannot be written here, or None when it can."""
        return self.server.read_only

    async def start(self) -> None:
        if self.read_only:
            await self._check_readable()
        else:
            await super().start()
        self._watcher = asyncio.create_task(self._watch(), name="history-server-watch")

    async def _check_readable(self) -> None:
        """A read-only database is not migrated (that writes): it must be current."""
        async with self._talking("open history"):
            await self._client.admin.command("ping")
            version = await stored_version(self.database)
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"the history database has layout version {version}, newer than this app "
                f"understands ({SCHEMA_VERSION}); update Storyreel to use it")
        if version < SCHEMA_VERSION:
            raise HistoryError(
                f"history is read-only ({self.read_only}) and needs upgrading to layout "
                f"{SCHEMA_VERSION}, which writes it; open it once where it can be written")

    async def _write(self, key: str, what: str, apply: Callable[[], Awaitable[None]], *,
                     change: Change | None = None) -> None:
        if self.read_only:
            raise HistoryError(f"history is read-only: cannot write {what}: {self.read_only}")
        await super()._write(key, what, apply, change=change)

    async def delete_run(self, run_id: str) -> bool:
        if self.read_only:
            raise HistoryError(
                f"history is read-only: cannot delete run {run_id}: {self.read_only}")
        return await super().delete_run(run_id)

    async def _watch(self) -> None:
        """Start the server again whenever it died, then let the held changes go out."""
        failures = 0
        while True:
            await asyncio.sleep(self._watch_s if not failures
                                else min(30.0, self._watch_s * 2 ** failures))
            try:
                if await self._revive():
                    await self.writes.wait_flushed(self._timeout_s)  # wakes the writer now
                failures = 0
            except HistoryError as exc:
                failures += 1
                log.error("history: %s; changes are held until it starts", exc)

    async def _revive(self) -> bool:
        """Start the server again if it died; True when it did. Raises ``HistoryError``."""
        async with self._reviving:
            if not self.server.died:
                return False
            log.warning("history: the embedded history server ended unexpectedly; "
                        "starting it again")
            await self.server.astart()
            self.restarts += 1
            return True

    async def aclose(self) -> None:
        """As ``MongoHistory.aclose``, after starting a server that died again and giving
        it the changes it missed: a server of ours that runs takes them, so they get
        longer than the usual timeout (the client first has to find it again)."""
        try:
            await self._revive()
        except HistoryError as exc:
            log.error("history: %s", exc)
        if self.writes.pending and self.server.running:
            await self.writes.wait_flushed(max(self._timeout_s, REVIVED_FLUSH_S))
        await super().aclose()

    async def _stop_server(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        await self.server.astop()


async def _start(store: MongoHistory) -> None:
    try:
        await store.start()
    except BaseException:
        await store.aclose()
        raise


class UnavailableHistory:
    """History that cannot be kept, and says why.

    Writes are accepted and dropped, so a run goes on (the reason is logged
    once, not once per shot), and counted: ``unrecorded()`` then says so, and
    a command ends non-zero. Reads raise ``HistoryError`` with the reason.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.kind = "unavailable"
        self.dropped = 0

    def _drop(self) -> None:
        if self.dropped == 0:
            log.warning("history is unavailable, this run is not kept: %s", self.reason)
        self.dropped += 1

    def _fail(self) -> HistoryError:
        return HistoryError(f"history is unavailable: {self.reason}")

    async def create_run(self, run: Run) -> None:
        self._drop()

    async def update_run(self, run_id: str, fields: Any) -> None:
        self._drop()

    async def upsert_shot(self, shot: Shot) -> None:
        self._drop()

    async def delete_shot(self, run_id: str, shot_id: str) -> None:
        self._drop()

    async def get_run(self, run_id: str) -> Run:
        raise self._fail()

    async def list_runs(self, *, limit: int = 20, before: datetime | None = None,
                        search: str | None = None) -> list[Run]:
        raise self._fail()

    async def count_runs(self, *, search: str | None = None) -> int:
        raise self._fail()

    async def find_unfinished(self) -> list[Run]:
        raise self._fail()

    async def delete_run(self, run_id: str) -> bool:
        raise self._fail()

    async def usage_totals(self, *, since: date | None = None) -> list[DayUsage]:
        raise self._fail()

    async def check_writable(self) -> None:
        raise self._fail()

    async def unrecorded(self) -> str | None:
        """Why changes were not kept (None until one was dropped)."""
        if not self.dropped:
            return None
        return f"history is unavailable, {self.dropped} change(s) were not kept: {self.reason}"

    async def run_owner(self, run_id: str) -> RunOwner | None:
        raise self._fail()

    async def claim_run(self, run_id: str, owner: RunOwner, *,
                        previous: RunOwner | None) -> bool:
        raise self._fail()

    async def renew_run_owner(self, run_id: str, owner: RunOwner) -> bool:
        return True  # nothing is kept, so nobody can take the run over

    async def release_run(self, run_id: str, token: str) -> bool:
        return True

    async def aclose(self) -> None:
        return None
