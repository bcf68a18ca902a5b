"""Search by whole words through an index: the same answers on every store, whichever
path a store takes (``words`` with ``$all`` on MongoDB and mongomock; on the embedded
server its newest runs read in order, then its FTS5 index for the older ones), old
documents migrated to it, and paging by cursor through a search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.history import PageCursor
from app.core.history.documents import SCHEMA_VERSION
from app.core.history.memory import MemoryHistory
from tests.core.history.test_history_contract import SEARCHABLE, T0, make_run

# (title, idea, prompt words) of the runs searched below, oldest first.
CORPUS = {
    "watch": ("Night Watch", "A Lighthouse KEEPER and a door.", ""),
    "doorway": ("The Doorway", "a keeper's doorway", ""),
    "accents": ("Été à Paris", "un café noir", "naïve"),
    "under": ("snake_case", "foo_bar baz", ""),
    "prompt": ("Sea", "a boat", "wide shot brass lamp"),
    **{name: (title, idea, "") for name, (title, idea) in SEARCHABLE.items()},
}

QUERIES = [
    ("keeper", {"watch", "keeper", "doorway"}),  # a whole word: "keeper's" has it too
    ("keep", set()),                            # not inside a longer word
    ("door", {"watch", "keeper", "paren"}),     # "door." yes, "doorway" no
    ("DOORWAY keeper", {"doorway"}),
    ("ete paris", {"accents"}),                 # accents folded, both ways
    ("CAFÉ", {"accents"}),
    ("naive", {"accents"}),                     # prompt words too
    ("snake_case", {"under"}),                  # "_" is literal in a search word
    ("snake", {"under"}),                       # ... and parts words, as punctuation does
    ("case_snake", set()),
    ("foo_bar baz", {"under"}),
    ("brass LAMP", {"prompt"}),
    ("brass boat sea", {"prompt"}),
    ("a.b", {"dot"}),
    ("a b", {"dot"}),                           # the words of "a.b", each whole
    ("(x", {"paren"}),
    ("$ne", {"dollar"}),
    (".*", {"star"}),
    ("[a-z]+ {2} ^$ | \\d", {"star"}),
    ("\\", {"star"}),
    ("$where", set()),
    ("zzz", set()),
    ("storm affair", set()),
]


async def seed(store) -> dict[str, str]:
    ids = {}
    for n, (name, (title, idea, prompt_words)) in enumerate(CORPUS.items()):
        run = make_run(n, title=title, idea=idea, prompt_words=prompt_words)
        ids[name] = run.run_id
        await store.create_run(run)
    return ids


@pytest.mark.parametrize(("query", "expected"), QUERIES)
async def test_search_finds_whole_words_on_every_store(store, query, expected):
    ids = await seed(store)

    found = [r.run_id for r in await store.list_runs(limit=50, search=query)]

    assert set(found) == {ids[name] for name in expected}
    assert found == sorted(found, reverse=True)  # newest first (run ids sort by time here)
    assert await store.count_runs(search=query) == len(expected)


@pytest.mark.parametrize("window", [1, 3])
async def test_the_index_answers_like_the_reference_store(mongo, window):
    # A scan window smaller than the history sends the embedded server's searches
    # through its FTS5 index for the older runs (MongoDB and mongomock use ``words``).
    store = mongo.store
    store.scan_window = window
    reference = MemoryHistory()
    await seed(store)
    await seed(reference)

    for query, _expected in QUERIES:
        want = [r.run_id for r in await reference.list_runs(limit=50, search=query)]
        got = [r.run_id for r in await store.list_runs(limit=50, search=query)]
        assert got == want, query
        assert await store.count_runs(search=query) == len(want), query


async def test_each_server_gets_the_index_it_can_serve(mongo):
    cursor = await mongo.store.database.runs.list_indexes()
    keys = [dict(ix["key"]) for ix in await cursor.to_list(None)]

    if mongo.store.kind.startswith("embedded"):
        assert mongo.store.text_index is True  # nx-27017: FTS5, it has no multikey index
        found = await mongo.store.database.command({"listSearchIndexes": "runs"})
        assert [ix["key"] for ix in found["cursor"]["firstBatch"]] == [{"search_text": "text"}]
        assert {"words": 1} not in keys  # it would index each run's array as one text
    else:
        assert mongo.store.text_index is False
        assert {"words": 1} in keys


async def test_a_searched_run_written_later_and_changed_is_found_through_the_index(mongo):
    store = mongo.store
    store.scan_window = 1
    for n in range(4):
        await store.create_run(make_run(n, title=f"Field {n}"))
    target = make_run(10, at=T0 - timedelta(days=1), title="Old", prompt_words="rope")
    await store.create_run(target)

    assert [r.run_id for r in await store.list_runs(search="rope")] == [target.run_id]
    await store.update_run(target.run_id, {"prompt_words": "anchor chain"})
    assert await store.list_runs(search="rope") == []
    assert [r.run_id for r in await store.list_runs(search="chain")] == [target.run_id]
    assert await store.delete_run(target.run_id)
    assert await store.list_runs(search="chain") == []


@pytest.mark.parametrize("window", [1, 2, 1000])
async def test_paging_a_search_by_cursor_sees_each_run_once_across_ties(mongo, window):
    store = mongo.store
    store.scan_window = window
    # Nine runs created in one millisecond, every other one a match, between others.
    same = [make_run(n, at=T0 + timedelta(microseconds=n * 100),
                     title="Harbour" if n % 2 == 0 else "Field") for n in range(9)]
    runs = [make_run(90, at=T0 + timedelta(minutes=1), title="harbour lights"), *same,
            make_run(91, at=T0 - timedelta(minutes=1), title="The Harbour"),
            make_run(92, at=T0 - timedelta(minutes=2), title="Fields")]
    for run in runs:
        await store.create_run(run)

    seen, cursor = [], None
    while True:
        page = await store.list_runs(limit=2, before=cursor, search="harbour")
        if not page:
            break
        seen.extend(r.run_id for r in page)
        cursor = PageCursor.after(page[-1])

    matching = sorted((r for r in same if r.title == "Harbour"), key=lambda r: r.run_id,
                      reverse=True)
    assert seen == [runs[0].run_id, *(r.run_id for r in matching), runs[-2].run_id]


async def test_start_gives_runs_of_the_previous_layout_their_words(mongo):
    store = mongo.store
    store.scan_window = 1
    db = store.database
    # Documents as version 1 wrote them: search text case-folded only, no ``words``.
    for n, (title, idea) in enumerate([("Été", "A KEEPER's door."), ("Sea", "a boat")]):
        at = datetime(2026, 11, 20, 10, n, tzinfo=UTC)
        run = make_run(n, title=title, idea=idea, at=at)
        doc = run.model_dump(mode="json")
        doc.update(_id=run.run_id, created_at=at, updated_at=at, schema=1, rev=0,
                   day="2026-11-20", page_key=f"2026112010{n:02d}00000 {run.run_id}",
                   search_text=f"{title}\n{idea}".casefold())
        await db.runs.insert_one(doc)
    await db.meta.replace_one({"_id": "schema"}, {"_id": "schema", "version": 1}, upsert=True)

    await store.start()

    docs = {d["title"]: d for d in await db.runs.find({}).to_list(None)}
    assert docs["Été"]["schema"] == SCHEMA_VERSION == 2
    assert docs["Été"]["search_text"] == "ete\na keeper's door."
    assert docs["Été"]["words"] == ["a", "door", "ete", "keeper", "s"]
    assert (await db.meta.find_one({"_id": "schema"}))["version"] == SCHEMA_VERSION
    found = await store.list_runs(search="ETE keeper")
    assert [r.title for r in found] == ["Été"]
    assert await store.count_runs(search="boat") == 1
    await store.start()  # again: nothing left to migrate, nothing changes
    assert [r.title for r in await store.list_runs(search="door.")] == ["Été"]
