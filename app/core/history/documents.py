"""Runs and shots as MongoDB documents, and the queries over them: pure functions.

Everything here is plain data in, plain data out, so it is tested without a
server. The queries stay inside the subset that real MongoDB, the embedded
nx-27017 server and mongomock agree on: equality, ``$lt``/``$gte`` on dates,
``$in``, ``$all`` on an array, ``$exists``, ``$and``/``$or``, string ``$regex``
with ``$options``, and ``$match``/``$group``/``$sum``/``$sort`` pipelines. No
``$where``, no ``$facet``, no array filters or positional paths, no compiled
regexes, and nothing taken from user input is ever used as an operator.
``$text`` goes to nx-27017 alone, whose SQLite FTS5 index serves it (see ``words``).

Dates are stored as real BSON dates (UTC, millisecond precision) so that they
sort and compare as dates; the JSON dumps of the models carry them as ISO
strings, so they are converted on the way in and out. Dates are only ever
written inside whole documents (insert or replace): nx-27017 silently stores a
date given to ``$set`` as a naive string, so run updates are a read, a change
and a replace guarded by a revision number (``rev``).

Each run document also carries fields derived from the others, rewritten with
every write, so that the embedded server can answer from an index or with one
SQL-side condition (it evaluates ``$or``, ``$and`` over regexes, ``$options``
and date ranges in Python, scanning every document):

- ``page_key``: creation time (UTC, ms, digits only) then the run id; it sorts
  like (created_at, run_id) and pages with one indexed ``$lt``. Digits only,
  because nx-27017 treats a string that starts like a date as a date, and then
  silently compares it wrongly.
- ``search_text``: title, idea and prompt words, folded (``history.fold``: case-folded,
  accents dropped), what a search's regular expression reads.
- ``words``: the distinct whole words (letters and digits) of ``search_text``, sorted. A
  search asks for its words there with ``$all``: on MongoDB a multikey index answers it;
  on nx-27017 (which has no multikey index: it would scan, decoding every run) the same
  words are looked up in a SQLite FTS5 index on ``search_text`` through ``$text``, which
  tokenises alike (letters and digits, case and accents folded). Only a search word with
  other characters (``a.b``, ``(x``) adds a ``$regex`` on ``search_text``, which then
  runs on the runs the index found; one with no letter or digit at all (``.*``) is the
  only one that scans.
- ``day``: the UTC day of creation, ``YYYY-MM-DD``, that usage is grouped by.

Writes address a document by ``_id``, which the store sets (the run id; run
id and shot id for a shot): nx-27017 keeps ``_id`` in an indexed column, while
any other filter of an update, replace or delete scans the whole collection.
Reads filter on ``run_id``, which has an index of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from app.core.history import PageCursor, fold, search_words, tokens, word_pattern
from app.core.models import Run, RunOwner, RunStatus, Shot

SCHEMA_VERSION = 2
"""Version of the document layout. Every document carries it as ``schema``;
``migrations.py`` brings older documents up to it at start-up."""

RUN_DATE_FIELDS = ("created_at", "updated_at", "finished_at")
SHOT_DATE_FIELDS = ("updated_at",)
DERIVED_FIELDS = ("day", "page_key", "search_text", "words")
# Fields the store computes or owns: never taken from an update, never shown.
_STORE_FIELDS = frozenset({"_id", "run_id", "schema", "rev", *DERIVED_FIELDS})

# Index keys, created at start-up. Names are left to the server (nx-27017
# ignores custom names). nx-27017 keeps an equality on a field sargable only
# when an index is named after that field alone, hence the single-field indexes
# beside the compound ones (on MongoDB they cost a little on writes, no more).
RUN_INDEXES: tuple[tuple[list[tuple[str, int]], bool], ...] = (
    ([("run_id", 1)], True),
    ([("page_key", -1)], False),  # runs by creation time: newest first, paging
    ([("status", 1)], False),  # unfinished runs
)
# A search's index: one or the other, by server (see ``MongoHistory.start``).
WORDS_INDEX: tuple[list[tuple[str, int]], bool] = ([("words", 1)], False)  # multikey
TEXT_INDEX: tuple[list[tuple[str, str]], bool] = ([("search_text", "text")], False)  # FTS5
SHOT_INDEXES: tuple[tuple[list[tuple[str, int]], bool], ...] = (
    ([("run_id", 1), ("shot_id", 1)], True),  # one document per shot
    ([("run_id", 1)], False),  # shots by run
)

NEWEST_FIRST = [("page_key", -1)]
STORY_ORDER = [("scene", 1), ("index", 1)]


# Dates.


def to_utc(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_bson_time(value: datetime | str) -> datetime:
    """The instant as BSON keeps it: UTC, floored to the millisecond."""
    value = to_utc(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def day_of(value: datetime | str) -> str:
    """The UTC calendar day of an instant, ``YYYY-MM-DD`` (what usage is grouped by)."""
    return to_utc(value).strftime("%Y-%m-%d")


def time_key(value: datetime | str) -> str:
    """An instant as digits that sort like it: ``YYYYMMDDhhmmssfff`` (UTC, ms)."""
    value = to_bson_time(value)
    return f"{value:%Y%m%d%H%M%S}{value.microsecond // 1000:03d}"


def searchable(title: str | None, idea: str | None, prompt_words: str | None = None) -> str:
    """What a search looks in: title, idea and the words of the shots' prompts, folded
    (see ``search_words``)."""
    parts = [title or "", idea or ""] + ([prompt_words] if prompt_words else [])
    return fold("\n".join(parts))


def words_of(text: str) -> list[str]:
    """The ``words`` field: the distinct whole words of folded text, sorted."""
    return sorted(set(tokens(text)))


def with_derived(doc: dict[str, Any]) -> dict[str, Any]:
    """Set the derived fields of a run document from the fields they come from."""
    doc["day"] = day_of(doc["created_at"])
    doc["page_key"] = f"{time_key(doc['created_at'])} {doc['run_id']}"
    doc["search_text"] = searchable(doc.get("title"), doc.get("idea"), doc.get("prompt_words"))
    doc["words"] = words_of(doc["search_text"])
    return doc


def _dates_in(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    for name in fields:
        if doc.get(name) is not None:
            doc[name] = to_bson_time(doc[name])
    return doc


def _dates_out(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    # Servers hand dates back naive or with their own UTC tzinfo; make them ours.
    for name in fields:
        if isinstance(doc.get(name), datetime):
            doc[name] = to_utc(doc[name])
    return doc


# Runs and shots.


def run_document(run: Run) -> dict[str, Any]:
    """The run document: the run without its shots, real dates, version and derived fields."""
    doc = {"_id": run.run_id, **_dates_in(run.model_dump(mode="json"), RUN_DATE_FIELDS)}
    doc["owner"] = owner_document(run.owner)
    doc["schema"] = SCHEMA_VERSION
    doc["rev"] = 0
    return with_derived(doc)


def run_changes(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields an update changes: JSON-mode values, dates made dates.

    Field names are our model's, never user input; still, a name that could act
    as an operator or a path is refused rather than passed on.
    """
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if not isinstance(name, str) or not name or name.startswith("$") or "." in name:
            raise ValueError(f"not a run field: {name!r}")
        if name in _STORE_FIELDS:
            continue
        changes[name] = value
    _dates_in(changes, RUN_DATE_FIELDS)
    changes["schema"] = SCHEMA_VERSION
    return changes


def same_revision(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The filter that matches a run document only if nobody changed it since it was read."""
    rev = doc.get("rev")
    return {"_id": doc["_id"], "rev": rev if rev is not None else {"$exists": False}}


def revised(doc: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The run document with ``changes`` applied, derived fields redone, revision counted up."""
    new = dict(doc)
    new.update(changes)
    new["rev"] = int(doc.get("rev") or 0) + 1
    return with_derived(new)


def shot_key(run_id: str, shot_id: str) -> str:
    """The ``_id`` of a shot document."""
    return f"{run_id}/{shot_id}"


def shot_document(shot: Shot) -> dict[str, Any]:
    doc = {"_id": shot_key(shot.run_id, shot.shot_id),
           **_dates_in(shot.model_dump(mode="json"), SHOT_DATE_FIELDS)}
    doc["schema"] = SCHEMA_VERSION
    return doc


def natural_key(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What identifies a document apart from its ``_id``: run id, and shot id for a shot."""
    return {k: doc[k] for k in ("run_id", "shot_id") if k in doc}


def run_from_document(doc: Mapping[str, Any]) -> Run:
    return Run.model_validate(_dates_out(_strip(doc), RUN_DATE_FIELDS))


def shot_from_document(doc: Mapping[str, Any]) -> Shot:
    return Shot.model_validate(_dates_out(_strip(doc), SHOT_DATE_FIELDS))


def _strip(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _STORE_FIELDS or k == "run_id"}


# Queries.


def search_regex(words: list[str]) -> str:
    """One string regular expression that finds every search word (``word_pattern``) in
    ``search_text``, in any order: lookaheads, the words only ever values, never keys."""
    patterns = [word_pattern(w) for w in words]
    if len(patterns) == 1:
        return patterns[0]
    return "^" + "".join(f"(?=[\\s\\S]*{p})" for p in patterns)


def search_filter(search: str | None, *, text_index: bool = False) -> dict[str, Any]:
    """The runs a search finds (``search_words``), asked so that an index answers.

    The whole words inside the search words must all be in ``words`` (``$all``; on
    nx-27017, ``text_index``, the same words through ``$text``: see the module's notes).
    That decides every search word made of letters and digits alone; a word with other
    characters is also matched as it is, by a string ``$regex`` on ``search_text`` (a
    compiled pattern is silently ignored by nx-27017), read only on the runs the index
    found, or on all of them when the search has no letter or digit at all.
    """
    words = search_words(search)
    if not words:
        return {}
    whole = sorted({t for w in words for t in tokens(w)})
    literal = [w for w in words if tokens(w) != [w]]  # words the index cannot decide
    query: dict[str, Any] = {}
    if whole:
        query = ({"$text": {"$search": " ".join(whole)}} if text_index
                 else {"words": {"$all": whole}})
    if literal:
        query["search_text"] = {"$regex": search_regex(literal)}
    return query


def scan_filter(search: str | None, *, below: str | None, floor: str | None) -> dict[str, Any]:
    """The runs a search finds among those with ``floor <= page_key < below``, read one by
    one newest first: no index but ``page_key``'s, so it stops at the first page's worth.
    The same runs as ``search_filter``'s (the same words, as a regular expression)."""
    words = search_words(search)
    query: dict[str, Any] = {"search_text": {"$regex": search_regex(words)}} if words else {}
    bounds = {op: key for op, key in (("$lt", below), ("$gte", floor)) if key is not None}
    if bounds:
        query["page_key"] = bounds
    return query


def page_bound(before: datetime | PageCursor | None) -> str | None:
    """The ``page_key`` a page's runs are below (None: from the newest)."""
    if isinstance(before, PageCursor):
        # The next page: below the last run listed, by time then run id (``page_key``
        # sorts exactly so), so that runs created in the same millisecond are all seen.
        return f"{time_key(before.created_at)} {before.run_id}"
    if before is not None:
        # Stored times are floored to the millisecond, so the bound is too: a run held
        # in memory (with microseconds) is then not listed before itself.
        return time_key(before)
    return None


def list_filter(*, before: datetime | PageCursor | None, search: str | None,
                text_index: bool = False, below: str | None = None) -> dict[str, Any]:
    """Runs created before ``before`` (if given; or with ``page_key`` below ``below``) that
    match ``search``: one flat document, no ``$and``, so that the embedded server runs
    all of it as SQL, on its indexes."""
    query = search_filter(search, text_index=text_index)
    bound = below if below is not None else page_bound(before)
    if bound is not None:
        query["page_key"] = {"$lt": bound}
    return query


UNFINISHED = {"status": RunStatus.RUNNING.value}


# Owners (see ``app.core.ownership``). Plain text and numbers only, set as one
# sub-document: never a date, never a dotted update path. Matched by equality on
# ``owner.token`` and ``owner.heartbeat_ms``, and ``owner: None`` (which also matches
# a run written before owners existed). Not ``$exists: false``: nx-27017 answers it
# true for a field that holds null. Not a top-level ``$or`` beside ``_id`` in an
# update: nx-27017 then silently updates the first document the ``$or`` matches.


def owner_document(owner: RunOwner | None) -> dict[str, Any] | None:
    return owner.model_dump(mode="json") if owner is not None else None


def owner_from_document(doc: Mapping[str, Any] | None) -> RunOwner | None:
    value = (doc or {}).get("owner")
    return RunOwner.model_validate(value) if isinstance(value, Mapping) else None


def owner_filter(key: Mapping[str, Any], token: str | None,
                 heartbeat_ms: int | None = None) -> dict[str, Any]:
    """The run document ``key`` (``{"_id": ...}`` or ``{"run_id": ...}``) while the owner
    with ``token`` holds it (None: while nobody does), and with ``heartbeat_ms`` only if
    that owner has not beaten since (a stale owner that wakes up is not taken over)."""
    query: dict[str, Any] = dict(key)
    if token is None:
        query["owner"] = None
        return query
    query["owner.token"] = token
    if heartbeat_ms is not None:
        query["owner.heartbeat_ms"] = heartbeat_ms
    return query


def owner_update(owner: RunOwner | None) -> dict[str, Any]:
    """Set the owner and count the revision up: a read-change-replace of the run that
    read it before (``same_revision``) then fails and reads again, keeping the owner."""
    return {"$set": {"owner": owner_document(owner)}, "$inc": {"rev": 1}}


def count_pipeline(search: str | None, *, text_index: bool = False) -> list[dict[str, Any]]:
    """``$match`` then ``$count``, rather than ``count_documents`` (whose ``$group`` on a
    constant nx-27017 runs in Python over every document: 1.1 s, not 0.14 s, for 10,000).
    Yields no document at all when nothing matches."""
    return [{"$match": search_filter(search, text_index=text_index)}, {"$count": "n"}]


def usage_pipeline(since: date | None) -> list[dict[str, Any]]:
    """Totals per UTC day of creation, oldest day first; no ``$facet``, no date operators
    (the day is stored on each run when it is written, as ``YYYY-MM-DD`` text, which
    also keeps dates out of the ``$match``: nx-27017 silently answers a lone date
    comparison in an aggregation ``$match`` wrongly)."""
    match = {"day": {"$gte": since.isoformat()}} if since is not None else {}
    return [
        {"$match": match},
        {"$group": {
            "_id": "$day",
            "runs": {"$sum": 1},
            "shots": {"$sum": "$shot_count"},
            "shots_done": {"$sum": "$shots_done"},
            "shots_failed": {"$sum": "$shots_failed"},
            "gpu_seconds": {"$sum": "$gpu_seconds"},
        }},
        {"$sort": {"_id": 1}},
    ]
