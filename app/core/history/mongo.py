"""Run history in MongoDB, through PyMongo's async API (``pymongo.AsyncMongoClient``).

Two collections: ``runs`` (one document per run, without its shots) and
``shots`` (one document per shot, unique on run id and shot id), so that
concurrent shot updates never fight over one array. The same code talks to
a real MongoDB or Atlas cluster, to the embedded nx-27017 server, and in tests
to mongomock; the queries it sends are in ``documents.py``.

Writes go through ``OrderedWrites``: when the server is lost mid-run they are
kept in order (and, with a ``Journal``, on disk in the data folder, replayed by
the next store on the database) and written when it is back, and the run goes
on; ``unrecorded()`` then says what is not written yet, for commands that must
not end as a clean success. Reads need
the server and raise ``HistoryError`` with a message a person can act on.
Messages never carry the connection string's password.

The client is not thread-safe: use a store on the event loop that opened it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

from pymongo import AsyncMongoClient, ReplaceOne
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from app.core.errors import HistoryError, RunNotFound
from app.core.history import DayUsage, PageCursor, loaded_order
from app.core.history.documents import (
    NEWEST_FIRST,
    RUN_INDEXES,
    SHOT_INDEXES,
    STORY_ORDER,
    TEXT_INDEX,
    UNFINISHED,
    WORDS_INDEX,
    count_pipeline,
    list_filter,
    natural_key,
    owner_filter,
    owner_from_document,
    owner_update,
    page_bound,
    revised,
    run_changes,
    run_document,
    run_from_document,
    same_revision,
    scan_filter,
    search_filter,
    shot_document,
    shot_from_document,
    shot_key,
    usage_pipeline,
)
from app.core.history.journal import Journal
from app.core.history.migrations import migrate
from app.core.history.writes import Backoff, Change, OrderedWrites
from app.core.models import Run, RunOwner, Shot
from app.core.urls import display_host, userinfo

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
# A read first waits for kept writes: the server timeout, plus time for the driver to
# notice the server is back (PyMongo re-checks a lost server at most twice a second).
_RECONNECT_S = 1.0
_AUTH_FAILED = 18
_REPLACE_ATTEMPTS = 5
_WRITE_CHECK = {"_id": "write-check"}  # in ``meta``: rewritten by ``check_writable``
# On nx-27017 a search first reads the newest runs one by one, at most this many (see
# ``_search_newest_first``). Each run read costs 0.1-0.3 ms there (SQLite parses the whole
# document; nx-27017 runs the regex in Python): measured at 100k runs, 1000 cost 265-390
# ms, 100 cost 9-55 ms. A word in a fifth of the runs or more fills a page within them.
SCAN_WINDOW = 100


def is_transient(exc: BaseException) -> bool:
    """A lost or unreachable server (keep the write and retry), not a refused request."""
    if isinstance(exc, ConnectionFailure):
        return True
    return isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError")


class _Refused(Exception):
    """The server refused a journalled change (read-only database, full disk)."""


class MongoHistory:
    """History in a MongoDB database. Build it with ``connect`` (or around any client with
    the ``AsyncMongoClient`` API), then ``await start()`` before the first query."""

    def __init__(
        self,
        client: Any,
        db_name: str = "storyreel",
        *,
        where: str = "MongoDB",
        kind: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        backoff: Backoff | None = None,
        secrets: tuple[str, ...] = (),
        on_close: Callable[[], Awaitable[None]] | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.kind = kind or f"{where} / {db_name}"
        self.where = where  # for messages: hosts only, never credentials
        self._client = client
        self._db = client[db_name]
        self._runs = self._db["runs"]
        self._shots = self._db["shots"]
        self._timeout_s = timeout_s
        self._secrets = tuple(s for s in secrets if s)
        self._on_close = on_close
        # Every write goes through here; its counters are for status lines and tests.
        self.writes = OrderedWrites(is_transient=is_transient, describe=self.describe,
                                    backoff=backoff, journal=journal,
                                    apply_batch=self._apply_many)
        self.refused = 0  # writes the server refused (read-only, disk full, ...): not kept
        # Runs this store wrote an owner for, and that owner's token: a batch of changes
        # made ``later`` is not written over a run another process has taken since.
        self._ours: dict[str, str] = {}
        self.refusal = ""  # why, the last time
        # Searches go through a ``$text`` index (nx-27017) rather than ``words`` (see
        # documents.py); ``start`` finds out which the server is.
        self.text_index = False
        self.scan_window = SCAN_WINDOW

    @classmethod
    def connect(cls, uri: str, db_name: str = "storyreel", *,
                timeout_s: float = DEFAULT_TIMEOUT_S, **kwargs: Any) -> MongoHistory:
        """A store on a new client for ``uri``. No I/O happens until ``start()``."""
        where = kwargs.pop("where", None) or f"MongoDB {display_host(uri)}"
        secrets = uri_secrets(uri)
        try:
            client: AsyncMongoClient = AsyncMongoClient(
                uri,
                tz_aware=True,
                tzinfo=UTC,
                appname="storyreel",
                serverSelectionTimeoutMS=int(timeout_s * 1000),
                connectTimeoutMS=int(timeout_s * 1000),
            )
        except (ConfigurationError, ValueError, TypeError) as exc:
            raise HistoryError(
                f"MONGODB_URI cannot be used: {redact(str(exc), secrets)}") from None
        return cls(client, db_name, where=where, timeout_s=timeout_s, secrets=secrets, **kwargs)

    async def start(self) -> None:
        """Check the server answers, migrate old documents, make sure the indexes exist."""
        async with self._talking("open history"):
            await self._client.admin.command("ping")
            applied = await migrate(self._db)
            self.text_index = await self._is_nx_27017()
            for keys, unique in (*RUN_INDEXES, *(() if self.text_index else (WORDS_INDEX,))):
                await self._runs.create_index(keys, unique=unique)
            if self.text_index:
                await self._create_text_index()
            for keys, unique in SHOT_INDEXES:
                await self._shots.create_index(keys, unique=unique)
            replayed = await self._replay_journals()
        if replayed:
            log.info("history: %d change(s) kept by an earlier session written to %s",
                     replayed, self.where)
        if applied:
            log.info("history: %s migrated to layout %d", self.where, applied[-1])

    async def _is_nx_27017(self) -> bool:
        """Whether the server is nx-27017 (it says so in ``serverStatus``). A server that
        does not answer ``serverStatus`` (Atlas without the role for it, mongomock) is
        taken for a MongoDB."""
        try:
            status = await self._client.admin.command("serverStatus")
        except (PyMongoError, NotImplementedError, TypeError, KeyError):
            return False
        return isinstance(status, Mapping) and status.get("process") == "nx_27017"

    async def _has_text_index(self) -> bool:
        found = await self._db.command({"listSearchIndexes": "runs"})
        keys = [ix.get("key") for ix in found.get("cursor", {}).get("firstBatch", [])]
        return dict(TEXT_INDEX[0]) in keys

    async def _create_text_index(self) -> None:
        """The FTS5 index on nx-27017. Only when it is missing: nx-27017 refills it from
        every run on each ``create_index`` (and fails, as every run is in it already),
        and ``listIndexes`` does not show it (``listSearchIndexes`` does). Another app
        starting on the same database may create it between the look and the making."""
        if await self._has_text_index():
            return
        try:
            await self._runs.create_index(TEXT_INDEX[0])
        except OperationFailure:
            if not await self._has_text_index():
                raise

    @property
    def database(self) -> Any:
        """The database handle itself, for maintenance and tests."""
        return self._db

    @property
    def pending_writes(self) -> int:
        """Changes waiting for the server to come back."""
        return self.writes.pending

    # Writes: kept in order while the server is away.

    async def create_run(self, run: Run) -> None:
        doc = run_document(run)
        run_id = run.run_id
        if run.owner is not None:
            self._ours[run_id] = run.owner.token
        # A replace by key, not an insert: writing it twice (a retry after a lost
        # reply, a resumed run, a replayed journal) is the same as writing it once.
        await self._write_change(Change(f"run:{run_id}", f"run {run_id}", "replace", "runs",
                                        {"_id": doc["_id"]}, doc))

    async def update_run(self, run_id: str, fields: Mapping[str, Any], *,
                         later: bool = False) -> None:
        try:
            changes = run_changes(fields)
        except ValueError as exc:
            raise HistoryError(str(exc)) from None
        await self._write_change(Change(f"run:{run_id}", f"update of run {run_id}", "revise",
                                        "runs", {"run_id": run_id}, changes), later=later)

    async def upsert_shot(self, shot: Shot, *, later: bool = False) -> None:
        doc = shot_document(shot)
        await self._write_change(Change(f"shot:{doc['_id']}",
                                        f"shot {shot.shot_id} of {shot.run_id}", "replace",
                                        "shots", {"_id": doc["_id"]}, doc), later=later)

    async def delete_shot(self, run_id: str, shot_id: str) -> None:
        """One shot's document, by ``_id``; kept in order (and journalled) like the other
        writes, so a delete never overtakes the writes to that shot made before it."""
        key = shot_key(run_id, shot_id)
        await self._write_change(Change(f"shot:{key}", f"deletion of shot {shot_id} of {run_id}",
                                        "delete", "shots", {"_id": key}, {}, run_id=run_id))

    async def _revise(self, run_filter: dict[str, Any], changes: dict[str, Any]) -> None:
        # Read, change, replace if unchanged meanwhile (``rev``), rather than ``$set``:
        # nx-27017 silently stores a date given to ``$set`` as a naive string. Writes
        # to one run are serialised in this process, so a retry means another process.
        for _ in range(_REPLACE_ATTEMPTS):
            doc = await self._runs.find_one(run_filter)
            if doc is None:
                raise RunNotFound(str(run_filter.get("run_id")))
            result = await self._runs.replace_one(same_revision(doc), revised(doc, changes))
            if result.matched_count:
                return
        raise HistoryError(f"run {run_filter.get('run_id')} kept changing under this update; "
                           "not saved")

    async def _apply(self, change: Change) -> None:
        """Make one change (now, when kept writes are retried, or replayed from a journal)."""
        if change.collection not in ("runs", "shots") or change.op not in ("replace", "revise",
                                                                             "delete"):
            raise HistoryError(f"not a history change: {change.op} on {change.collection}")
        if change.op == "delete":  # by ``_id`` only: deleting again is harmless
            await self._db[change.collection].delete_one({"_id": change.filter["_id"]})
        elif change.op == "revise":
            await self._revise(change.filter, change.update)
        else:
            await self._upsert(self._db[change.collection], change.update)

    async def _write_change(self, change: Change, *, later: bool = False) -> None:
        run_id = change.run
        if run_id in self._ours:  # stamped with our ownership, for a replay (see Change)
            change = replace(change, run_id=run_id, owner=self._ours[run_id])
        await self._write(change.key, change.what, lambda: self._apply(change), change=change,
                          later=later)

    async def _apply_many(self, changes: Sequence[Change]) -> None:
        """Make a batch of changes (``OrderedWrites``' writes ``later``): the shots' in one
        round trip, each run's as ``_apply`` does. Raises as ``_write`` does."""
        try:
            changes = await self._still_ours(changes)
            shots = [c.update for c in changes if c.collection == "shots" and c.op == "replace"]
            if len(shots) > 1:
                try:
                    await self._shots.bulk_write(
                        [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in shots],
                        ordered=False)
                except BulkWriteError:  # a duplicate key (see ``_upsert``): one by one
                    for doc in shots:
                        await self._upsert(self._shots, doc)
            elif shots:
                await self._upsert(self._shots, shots[0])
            for change in changes:
                if not (change.collection == "shots" and change.op == "replace"):
                    await self._apply(change)
        except PyMongoError as exc:
            if is_transient(exc):
                raise
            error = HistoryError(f"cannot write {changes[0].what}"
                                 f"{f' and {len(changes) - 1} more' if len(changes) > 1 else ''}"
                                 f": {self.describe(exc)}")
            if len(changes) == 1:  # (a batch refused is tried again change by change)
                self.refused += 1
                self.refusal = str(error)
            raise error from None

    async def _still_ours(self, changes: Sequence[Change]) -> Sequence[Change]:
        """The changes, less those to runs another process took over since this store
        wrote their owner (this process was frozen, say, with a batch waiting: written on
        waking, it would set shots the new owner finished back to where they were)."""
        taken = await self._taken({c.run: self._ours[c.run] for c in changes
                                   if c.run in self._ours})
        if not taken:
            return changes
        for run_id in taken:
            self._ours.pop(run_id, None)
            log.warning("history: run %s was taken over by another process; changes this one "
                        "still held for it are not written", run_id)
        return [c for c in changes if c.run not in taken]

    async def _taken(self, tokens: Mapping[str, str]) -> set[str]:
        """Of the runs in ``tokens`` (run id: the owner token a change to it was made
        under), those another process has taken over since: their owner is another, or
        none. A run not in the database (yet) is not taken. Raises what PyMongo raises."""
        if not tokens:
            return set()
        docs = await self._runs.find({"run_id": {"$in": sorted(tokens)}},
                                     {"run_id": 1, "owner": 1}).to_list(None)
        return {doc["run_id"] for doc in docs
                if (owner := owner_from_document(doc)) is None
                or owner.token != tokens[doc["run_id"]]}

    async def _replay_journals(self) -> int:
        """Write the changes that earlier processes kept in their journals for this database
        (an app that exited while the server was away). A change that no longer applies (its
        run was deleted) is logged and skipped; a server that refuses writes (a read-only
        database, a full disk) leaves the journal for next time, and history opens for
        reading; a lost server stops the replay (and the start)."""
        journal = self.writes.journal
        if journal is None:
            return 0

        taken: dict[tuple[str, str], bool] = {}  # (run, token): read once a replay

        async def apply(entry: dict[str, Any]) -> None:
            try:
                change = Change.from_entry(entry)
            except ValueError as exc:
                log.error("history: a journalled change cannot be read: %s", exc)
                return
            try:
                if change.owner is not None and change.run_id is not None:
                    key = (change.run_id, change.owner)
                    if key not in taken:
                        taken[key] = bool(await self._taken({change.run_id: change.owner}))
                    if taken[key]:
                        log.warning("history: not replaying %s: another process has taken "
                                    "run %s over since", change.what, change.run_id)
                        return
                await self._apply(change)
            except HistoryError as exc:
                log.error("history: a journalled change was not written: %s", exc)
            except PyMongoError as exc:
                if is_transient(exc):
                    raise
                raise _Refused(self.describe(exc)) from None

        try:
            return await journal.replay(apply)
        except _Refused as exc:
            log.error("history: changes kept in %s are not written yet: %s; they stay there "
                      "and are written when history is next opened", journal.folder, exc)
            return 0

    async def _upsert(self, collection: Any, doc: dict[str, Any]) -> None:
        try:
            await collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        except DuplicateKeyError:
            # Another writer inserted the document first (two upserts of a new one
            # raced), or it predates ``_id`` keys: ours is then a plain replace.
            rest = {k: v for k, v in doc.items() if k != "_id"}
            await collection.replace_one(natural_key(doc), rest)

    async def _write(self, key: str, what: str, apply: Callable[[], Awaitable[None]], *,
                     change: Change | None = None, later: bool = False) -> None:
        async def guarded() -> None:
            try:
                await apply()
            except PyMongoError as exc:
                if is_transient(exc):
                    raise
                raise HistoryError(f"cannot write {what}: {self.describe(exc)}") from None

        try:
            await self.writes.submit(key, what, guarded, change=change, later=later)
        except HistoryError as exc:
            self.refused += 1
            self.refusal = str(exc)
            raise

    # Reads: kept writes go first, so that a read sees every change made before it.

    async def get_run(self, run_id: str) -> Run:
        async with self._reading("load run"):
            doc = await self._runs.find_one({"run_id": run_id})
            if doc is None:
                raise RunNotFound(run_id)
            shots = await self._shots.find({"run_id": run_id}).sort(STORY_ORDER).to_list(None)
        run = run_from_document(doc)
        run.shots = loaded_order(shot_from_document(s) for s in shots)
        return run

    async def list_runs(
        self, *, limit: int = 20, before: datetime | PageCursor | None = None,
        search: str | None = None,
    ) -> list[Run]:
        if limit < 1:
            return []
        async with self._reading("list runs"):
            if self.text_index and search_filter(search, text_index=True).get("$text"):
                docs = await self._search_newest_first(limit, page_bound(before), search)
            else:
                query = list_filter(before=before, search=search)
                docs = await self._runs.find(query).sort(NEWEST_FIRST).limit(limit).to_list(None)
        return [run_from_document(d) for d in docs]

    async def _search_newest_first(self, limit: int, below: str | None,
                                   search: str | None) -> list[dict[str, Any]]:
        """A search on nx-27017, in two steps. Its FTS5 index finds the runs with rare words
        at once, but hands back every run it matched (scored) before any is sorted: for a
        word most runs have, seconds at 100,000 runs. Reading the newest runs in order
        finds a page of those common words at once, but reads every run for a rare one.
        So: read the newest ``scan_window`` runs, and ask the index only for what is older
        when they did not fill the page (then the words are rare)."""
        bounded = {"page_key": {"$lt": below}} if below is not None else {}
        edge = await self._runs.find(bounded, {"page_key": 1}).sort(NEWEST_FIRST).skip(
            max(self.scan_window - 1, 0)).limit(1).to_list(None)
        floor = edge[0]["page_key"] if edge else None
        scan = scan_filter(search, below=below, floor=floor)
        docs = await self._runs.find(scan).sort(NEWEST_FIRST).limit(limit).to_list(None)
        if len(docs) < limit and floor is not None:
            older = list_filter(before=None, search=search, text_index=True, below=floor)
            docs += await self._runs.find(older).sort(NEWEST_FIRST).limit(
                limit - len(docs)).to_list(None)
        return docs

    async def count_runs(self, *, search: str | None = None) -> int:
        async with self._reading("count runs"):
            cursor = await self._runs.aggregate(count_pipeline(search,
                                                               text_index=self.text_index))
            counted = await cursor.to_list(None)
        return int(counted[0]["n"]) if counted else 0

    async def find_unfinished(self) -> list[Run]:
        async with self._reading("find unfinished runs"):
            docs = await self._runs.find(UNFINISHED).sort(NEWEST_FIRST).to_list(None)
        return [run_from_document(d) for d in docs]

    async def delete_run(self, run_id: str) -> bool:
        async with self._reading("delete run"):
            # By ``_id`` (see documents.py). The run first: a crash in between leaves
            # unseen shots, never a run whose shots are gone; deleting again clears them.
            run = await self._runs.find_one({"run_id": run_id}, {"_id": 1})
            if run is not None:
                await self._runs.delete_one({"_id": run["_id"]})
            shots = await self._shots.find({"run_id": run_id}, {"_id": 1}).to_list(None)
            if shots:
                await self._shots.delete_many({"_id": {"$in": [s["_id"] for s in shots]}})
        return run is not None

    async def usage_totals(self, *, since: date | None = None) -> list[DayUsage]:
        async with self._reading("total usage"):
            cursor = await self._runs.aggregate(usage_pipeline(since))
            groups = await cursor.to_list(None)
        return [
            DayUsage(
                day=g["_id"],
                runs=int(g["runs"]),
                shots=int(g["shots"]),
                shots_done=int(g["shots_done"]),
                shots_failed=int(g["shots_failed"]),
                gpu_seconds=round(float(g["gpu_seconds"]), 3),
            )
            for g in groups
            if g["_id"] is not None
        ]

    # Whether history is being kept: for commands that must not run unrecorded.

    async def check_writable(self) -> None:
        """Raise ``HistoryError`` unless the database takes a write now (say, before work
        that is paid for). Kept writes go first, as for a read."""
        async with self._reading("write to history"):
            await self._db["meta"].replace_one(
                _WRITE_CHECK, {**_WRITE_CHECK, "at": datetime.now(UTC)}, upsert=True)

    async def unrecorded(self) -> str | None:
        """Why changes made so far are not all in the database, or None when they are.
        Kept writes get up to the timeout to be written first."""
        if self.refused:
            return f"{self.refused} change(s) to history were refused: {self.refusal}"
        flushed = await self.writes.wait_flushed(self._timeout_s + _RECONNECT_S)
        if flushed and not self.writes.dropped:
            return None
        if flushed:
            return f"{self.writes.dropped} kept change(s) to history were refused by {self.where}"
        waiting = f"{self.writes.pending} change(s) could not be written to {self.where}"
        path = self.writes.journal_path
        if path is not None and not self.writes.unjournalled:
            return f"{waiting}; they are kept in {path} and written when history is next opened"
        why = f" ({self.writes.journal_error})" if self.writes.journal_error else ""
        return f"{waiting}, and are lost when the app exits{why}"

    # Ownership: each change is one conditional update, straight to the server (not kept
    # for later: an owner that cannot be written is not an owner). By ``_id``, which is
    # indexed everywhere; then by ``run_id`` for a run written before ``_id`` was its id.

    async def run_owner(self, run_id: str) -> RunOwner | None:
        async with self._reading("read who works on a run"):
            doc = await self._runs.find_one({"run_id": run_id}, {"owner": 1})
        if doc is None:
            raise RunNotFound(run_id)
        return owner_from_document(doc)

    async def claim_run(self, run_id: str, owner: RunOwner, *,
                        previous: RunOwner | None) -> bool:
        token, beat = (previous.token, previous.heartbeat_ms) if previous else (None, None)
        async with self._reading("take a run"):
            return await self._update_owner(run_id, owner, token, beat)

    async def renew_run_owner(self, run_id: str, owner: RunOwner) -> bool:
        if self.writes.kept:  # the run itself may not be written yet: judge later
            return True
        async with self._talking("renew a run's heartbeat"):
            return await self._update_owner(run_id, owner, owner.token)

    async def release_run(self, run_id: str, token: str) -> bool:
        async with self._talking("release a run"):
            return await self._update_owner(run_id, None, token)

    async def _update_owner(self, run_id: str, owner: RunOwner | None, token: str | None,
                            heartbeat_ms: int | None = None) -> bool:
        update = owner_update(owner)
        for key in ({"_id": run_id}, {"run_id": run_id}):
            query = owner_filter(key, token, heartbeat_ms)
            if (await self._runs.update_one(query, update)).matched_count:
                if owner is not None:
                    self._ours[run_id] = owner.token
                else:
                    self._ours.pop(run_id, None)
                return True
        return False

    async def aclose(self) -> None:
        """Write what is kept (for at most the timeout), close the client, then ``on_close``."""
        try:
            await self.writes.aclose(self._timeout_s)
            await self._client.close()
        finally:
            if self._on_close is not None:
                await self._on_close()

    # Errors, made readable.

    @asynccontextmanager
    async def _reading(self, what: str):
        if not await self.writes.wait_flushed(self._timeout_s + _RECONNECT_S):
            raise HistoryError(
                f"cannot {what}: {self.where} is unreachable; "
                f"{self.writes.pending} change(s) are waiting to be written")
        async with self._talking(what):
            yield

    @asynccontextmanager
    async def _talking(self, what: str):
        try:
            yield
        except PyMongoError as exc:
            raise HistoryError(f"cannot {what}: {self.describe(exc)}") from None

    def describe(self, exc: BaseException) -> str:
        """What went wrong, in words, naming hosts but never credentials."""
        if isinstance(exc, ServerSelectionTimeoutError):
            text = (f"{self.where} did not answer within {self._timeout_s:g} s "
                    "(is it running and reachable?)")
        elif isinstance(exc, ConnectionFailure):
            text = f"lost the connection to {self.where}"
        elif isinstance(exc, OperationFailure) and exc.code == _AUTH_FAILED:
            text = f"{self.where} refused the user name or password in MONGODB_URI"
        elif isinstance(exc, OperationFailure):
            detail = (exc.details or {}).get("errmsg") or str(exc)
            text = f"{self.where} refused the request: {detail} (code {exc.code})"
        else:
            text = str(exc) or type(exc).__name__
        return redact(text, self._secrets)


# Connection strings: what may be shown, what must not.


def uri_secrets(uri: str) -> tuple[str, ...]:
    """The strings that must never be shown: the password, raw and decoded, and the URI."""
    credentials = userinfo(uri)
    password = credentials.split(":", 1)[1] if ":" in credentials else ""
    found = {uri, credentials, password, unquote(password)}
    return tuple(sorted((s for s in found if len(s) >= 3), key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
