"""What the MongoDB store keeps on the server, on every MongoDB-speaking backend:
the documents as written, the indexes, migrations, and two writers at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pymongo.errors import DuplicateKeyError

from app.core.errors import HistoryError
from app.core.history.documents import SCHEMA_VERSION
from app.core.history.mongo import MongoHistory
from app.core.models import ShotStatus
from tests.core.history.test_history_contract import make_run, make_shot


async def raw(collection, query=None) -> list[dict]:
    return await collection.find(query or {}).to_list(None)


async def test_documents_hold_real_dates_and_a_schema_version(mongo):
    store = mongo.store
    run = make_run(1)
    await store.create_run(run)
    await store.update_run(run.run_id, {"finished_at": "2026-11-20T10:00:00+00:00",
                                        "updated_at": "2026-11-20T10:00:00+00:00"})
    shot = make_shot(run, 1, 1)
    await store.upsert_shot(shot)
    shot.status = ShotStatus.DONE
    await store.upsert_shot(shot)

    [run_doc] = await raw(store.database.runs)
    shot_docs = await raw(store.database.shots)

    # Dates must stay dates after an update (nx-27017 turns a $set date into text).
    for name in ("created_at", "updated_at", "finished_at"):
        assert isinstance(run_doc[name], datetime), name
    assert run_doc["finished_at"].replace(tzinfo=UTC) == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert run_doc["schema"] == SCHEMA_VERSION and run_doc["day"] == "2026-11-20"
    assert "shots" not in run_doc
    assert len(shot_docs) == 1
    assert shot_docs[0]["schema"] == SCHEMA_VERSION and shot_docs[0]["status"] == "done"
    assert isinstance(shot_docs[0]["updated_at"], datetime)


async def index_keys(collection) -> dict[tuple[str, ...], bool]:
    cursor = await collection.list_indexes()
    return {tuple(ix["key"]): bool(ix.get("unique")) for ix in await cursor.to_list(None)}


async def test_indexes_exist_for_every_query(mongo):
    runs = await index_keys(mongo.store.database.runs)
    shots = await index_keys(mongo.store.database.shots)

    assert runs[("run_id",)] is True
    assert ("page_key",) in runs  # by creation time: newest first, paged
    assert ("status",) in runs  # unfinished runs
    assert shots[("run_id", "shot_id")] is True  # one document per shot
    assert ("run_id",) in shots  # shots by run


async def test_the_unique_index_refuses_a_second_document_for_a_shot(mongo):
    run = make_run(1)
    await mongo.store.upsert_shot(make_shot(run, 1, 1))

    with pytest.raises(DuplicateKeyError):
        await mongo.store.database.shots.insert_one({"run_id": run.run_id, "shot_id": "s01-01"})


async def test_start_migrates_documents_written_before_versions(mongo):
    db = mongo.store.database
    await db.meta.delete_many({})
    legacy = make_run(1).model_dump(mode="json")
    legacy["created_at"] = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    await db.runs.insert_one(legacy)
    await db.shots.insert_one(make_shot(make_run(1), 1, 1).model_dump(mode="json"))

    await mongo.store.start()

    [run_doc] = await raw(db.runs)
    [shot_doc] = await raw(db.shots)
    assert (run_doc["schema"], run_doc["day"]) == (SCHEMA_VERSION, "2026-11-20")
    assert run_doc["page_key"] == f"20261120230000000 {legacy['run_id']}"
    assert run_doc["search_text"] == "run 1\nan idea"
    assert run_doc["words"] == ["1", "an", "idea", "run"]
    assert shot_doc["schema"] == 1
    assert (await db.meta.find_one({"_id": "schema"}))["version"] == SCHEMA_VERSION
    assert [u.runs for u in await mongo.store.usage_totals()] == [1]
    assert [r.run_id for r in await mongo.store.list_runs(search="IDEA")] == [legacy["run_id"]]
    await mongo.store.update_run(legacy["run_id"], {"title": "updated"})  # no rev yet: fine
    assert (await mongo.store.get_run(legacy["run_id"])).title == "updated"


async def test_a_database_from_a_newer_app_is_left_alone(mongo):
    await mongo.store.database.meta.replace_one({"_id": "schema"},
                                                {"_id": "schema", "version": 99}, upsert=True)

    with pytest.raises(HistoryError, match="newer"):
        await mongo.store.start()


async def test_two_writers_on_one_database_lose_no_update(mongo):
    other: MongoHistory = await mongo.twin()
    try:
        run = make_run(1)
        await mongo.store.create_run(run)
        shots = [make_shot(run, 1, i) for i in range(1, 7)]

        # Both write every shot (racing upserts of new documents) and update the run.
        await asyncio.gather(
            *(store.upsert_shot(shot) for shot in shots for store in (mongo.store, other)),
            *(store.update_run(run.run_id, {f"{field}": n})
              for n, (store, field) in enumerate([(mongo.store, "shots_done"),
                                                  (other, "shots_failed"),
                                                  (mongo.store, "shot_count"),
                                                  (other, "wall_seconds")], 1)),
        )
        got = await other.get_run(run.run_id)
    finally:
        await other.aclose()

    assert [s.shot_id for s in got.shots] == [s.shot_id for s in shots]
    assert (got.shots_done, got.shots_failed, got.shot_count, got.wall_seconds) == (1, 2, 3, 4)


class _RacedCollection:
    """A collection where another writer inserts the document just before our upsert."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict, dict, bool]] = []

    async def replace_one(self, key, doc, upsert=False):
        self.calls.append((key, doc, upsert))
        if upsert:
            raise DuplicateKeyError("E11000 duplicate key error", 11000)


async def test_a_duplicate_key_on_upsert_becomes_a_replace(mongo):
    raced = _RacedCollection()

    await mongo.store._upsert(raced, {"_id": "r/s", "run_id": "r", "shot_id": "s", "x": 1})

    assert raced.calls == [
        ({"_id": "r/s"}, {"_id": "r/s", "run_id": "r", "shot_id": "s", "x": 1}, True),
        ({"run_id": "r", "shot_id": "s"}, {"run_id": "r", "shot_id": "s", "x": 1}, False),
    ]
