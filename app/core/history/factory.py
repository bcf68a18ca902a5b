"""Choosing and opening the history store: MongoDB when configured, else embedded.

``open_history(settings)`` is the one way the app gets its history. It never
fails the app: when the store cannot be opened (MongoDB unreachable, bad
credentials, the embedded server cannot start, a database from a newer app)
it returns an ``UnavailableHistory`` that says why. Runs still work with it;
they are just not kept, and anything that reads history gets a
``HistoryError`` carrying that reason. Close the store with ``aclose()``:
for the embedded store that also stops its server.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

from app.core.errors import HistoryError
from app.core.history import DayUsage, HistoryStore
from app.core.history.embedded import EmbeddedServer
from app.core.history.mongo import MongoHistory
from app.core.models import Run, RunOwner, Shot
from app.core.settings import Settings

log = logging.getLogger(__name__)

REMOTE_TIMEOUT_S = 5.0  # MongoDB / Atlas: long enough for a first TLS handshake
EMBEDDED_TIMEOUT_S = 2.0  # the embedded server is a child process on this machine


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
            return await open_mongodb(settings.mongodb_uri.get_secret_value(),
                                      settings.mongodb_db,
                                      timeout_s=timeout_s or REMOTE_TIMEOUT_S)
        return await open_embedded(embedded_folder(settings), settings.mongodb_db,
                                   timeout_s=timeout_s or EMBEDDED_TIMEOUT_S)
    except HistoryError as exc:
        if strict:
            raise
        log.warning("%s", exc)
        return UnavailableHistory(str(exc))


async def open_mongodb(uri: str, db_name: str = "storyreel", *,
                       timeout_s: float = REMOTE_TIMEOUT_S) -> MongoHistory:
    """A started store on the MongoDB server at ``uri``. Raises ``HistoryError``."""
    store = MongoHistory.connect(uri, db_name, timeout_s=timeout_s)
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
        kind=f"embedded ({folder})",
        timeout_s=timeout_s,
        server=server,
        **kwargs,
    )
    await _start(store)
    return store


class EmbeddedHistory(MongoHistory):
    """A ``MongoHistory`` on the embedded server it owns: ``aclose()`` stops the server."""

    def __init__(self, client: Any, db_name: str, *, server: EmbeddedServer,
                 **kwargs: Any) -> None:
        super().__init__(client, db_name, on_close=server.astop, **kwargs)
        self.server = server


async def _start(store: MongoHistory) -> None:
    try:
        await store.start()
    except BaseException:
        await store.aclose()
        raise


class UnavailableHistory:
    """History that cannot be kept, and says why.

    Writes are accepted and dropped, so a run goes on (the reason is logged
    once, not once per shot); reads raise ``HistoryError`` with the reason.
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
