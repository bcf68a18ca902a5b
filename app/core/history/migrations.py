"""Bringing stored documents up to the current layout, at start-up.

The database keeps its layout version in ``meta`` (``{_id: "schema",
version: N}``) and every document carries its own ``schema``. On start the
store runs each step newer than the database's version, in order, then
records the new version. Steps are idempotent and select only documents
still below their version, so two processes starting together, or a step
cut short by a crash, do no harm.

To change the layout: raise ``SCHEMA_VERSION`` in ``documents.py``, add a
step here that moves documents of the previous version to it, and teach
``run_from_document``/``shot_from_document`` nothing: they read the current
layout only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import UpdateOne

from app.core.errors import HistoryError
from app.core.history.documents import (
    NEWEST_FIRST,
    SCHEMA_VERSION,
    searchable,
    with_derived,
    words_of,
)

log = logging.getLogger(__name__)

SCHEMA_KEY = {"_id": "schema"}
_BATCH = 500  # runs per bulk write while migrating
_V1_DERIVED = ("day", "page_key", "search_text")  # what version 1 derived (``words`` is 2's)


async def _stamp_v1(db: Any) -> None:
    """Version 1: documents written before versioning get ``schema``, and runs their
    derived fields. Only text and numbers are ``$set``: never dates (see documents.py)."""
    unversioned = {"schema": {"$exists": False}}
    wanted = {"_id": 1, "run_id": 1, "created_at": 1, "title": 1, "idea": 1}
    async for doc in db.runs.find(unversioned, wanted):
        changes: dict[str, Any] = {"schema": 1}
        if doc.get("created_at") is not None and doc.get("run_id"):
            derived = with_derived(dict(doc))
            changes.update({name: derived[name] for name in _V1_DERIVED})
        await db.runs.update_one({"_id": doc["_id"]}, {"$set": changes})
    await db.shots.update_many(unversioned, {"$set": {"schema": 1}})


async def _words_v2(db: Any) -> None:
    """Version 2: search by whole words through an index. Each run below version 2 gets
    ``words`` and its ``search_text`` folded anew (accents dropped too): text and an
    array of text, ``$set`` in bulk. Read a batch at a time, newest first, each batch
    below the last (``page_key``): nx-27017 reads a whole answer before it sends any of
    it, so one query for 100,000 runs outlasts the client's timeout. Runs without a
    ``page_key`` (none should be left by version 1) are done last. Shots are as they were
    (their layout did not change), so their ``schema`` stays 1."""
    wanted = {"_id": 1, "title": 1, "idea": 1, "prompt_words": 1, "page_key": 1}
    below: str | None = None
    while True:
        query: dict[str, Any] = {"schema": {"$lt": 2}}
        query["page_key"] = {"$lt": below} if below is not None else {"$exists": True}
        docs = await db.runs.find(query, wanted).sort(NEWEST_FIRST).limit(_BATCH).to_list(None)
        if not docs:
            break
        await _set_words(db, docs)
        below = docs[-1]["page_key"]
    while docs := await db.runs.find({"schema": {"$lt": 2}}, wanted).limit(_BATCH).to_list(None):
        await _set_words(db, docs)


async def _set_words(db: Any, docs: list[dict[str, Any]]) -> None:
    updates = []
    for doc in docs:
        text = searchable(doc.get("title"), doc.get("idea"), doc.get("prompt_words"))
        updates.append(UpdateOne({"_id": doc["_id"]}, {"$set": {
            "search_text": text, "words": words_of(text), "schema": 2}}))
    await db.runs.bulk_write(updates, ordered=False)


# (version reached, what it does, the step). Append only; never edit a released step.
STEPS: list[tuple[int, str, Callable[[Any], Awaitable[None]]]] = [
    (1, "stamp schema version and creation day", _stamp_v1),
    (2, "words of each run, for searching through an index", _words_v2),
]
assert STEPS[-1][0] == SCHEMA_VERSION, "every schema version needs its migration step"


async def stored_version(db: Any) -> int:
    doc = await db.meta.find_one(SCHEMA_KEY)
    return int(doc["version"]) if doc else 0


async def migrate(db: Any) -> list[int]:
    """Run the steps the database still needs; returns the versions applied.

    Raises ``HistoryError`` when the database was written by a newer app: its
    documents may not mean what this version thinks, so it is not touched.
    """
    current = await stored_version(db)
    if current > SCHEMA_VERSION:
        raise HistoryError(
            f"the history database has layout version {current}, newer than this app "
            f"understands ({SCHEMA_VERSION}); update Storyreel to use it"
        )
    applied = []
    for version, what, step in STEPS:
        if version <= current:
            continue
        log.info("history: migrating documents to layout %d (%s)", version, what)
        await step(db)
        await db.meta.replace_one(SCHEMA_KEY, {**SCHEMA_KEY, "version": version}, upsert=True)
        applied.append(version)
    return applied
