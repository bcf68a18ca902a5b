"""History stores to run the same tests against.

Every contract test takes ``store`` and runs once per backend: the memory and
file stores, ``MongoHistory`` on mongomock, ``MongoHistory`` over the wire on
the embedded nx-27017 server, and on a real MongoDB when ``MONGODB_TEST_URI``
is set (each test then gets a database of its own, dropped afterwards).

mongomock-motor mocks Motor's API, not PyMongo's async one. Where they differ
(``aggregate`` and ``list_indexes`` are awaited in PyMongo and return a cursor
directly in Motor; ``close`` is a coroutine in PyMongo and a plain call in
Motor; mongomock's ``bulk_write`` cannot take PyMongo 4.20's ``UpdateOne``)
``PyMongoAsyncShim`` gives mongomock PyMongo's shape, so the store code knows only
``AsyncMongoClient``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo import AsyncMongoClient, UpdateOne

from app.core.history.factory import open_embedded, open_mongodb
from app.core.history.memory import MemoryHistory
from app.core.history.mongo import MongoHistory

MONGODB_TEST_URI = os.environ.get("MONGODB_TEST_URI")
NO_REAL_MONGODB = "MONGODB_TEST_URI is not set: contract tests on a real MongoDB are skipped"

BACKENDS = ["memory", "mongomock", "embedded", "mongodb"]
MONGO_BACKENDS = ["mongomock", "embedded", "mongodb"]


class _Collection:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    async def aggregate(self, *args: Any, **kwargs: Any) -> Any:
        return self._collection.aggregate(*args, **kwargs)

    async def list_indexes(self, *args: Any, **kwargs: Any) -> Any:
        return self._collection.list_indexes(*args, **kwargs)

    async def bulk_write(self, requests: list[Any], **kwargs: Any) -> None:
        # mongomock cannot take PyMongo 4.20's operations (they pass it ``sort``): the
        # same updates, one by one.
        for request in requests:
            assert isinstance(request, UpdateOne), request
            await self._collection.update_one(request._filter, request._doc)


class _Database:
    def __init__(self, database: Any) -> None:
        self._database = database

    def __getitem__(self, name: str) -> _Collection:
        return _Collection(self._database[name])

    def __getattr__(self, name: str) -> Any:
        if name == "command":
            return self._database.command
        return self[name]


class PyMongoAsyncShim:
    """A mongomock-motor client with the ``AsyncMongoClient`` API the store uses."""

    def __init__(self, client: AsyncMongoMockClient | None = None) -> None:
        self._client = client or AsyncMongoMockClient(tz_aware=True)

    def __getitem__(self, name: str) -> _Database:
        return _Database(self._client[name])

    def __getattr__(self, name: str) -> _Database:
        return self[name]

    async def close(self) -> None:
        self._client.close()


@dataclass
class Backend:
    """A started store, how to open a second store on the same database (another
    process, as far as the store can tell), and how to remove what they left."""

    store: Any
    twin: Callable[[], Awaitable[Any]] | None = None
    cleanup: Callable[[], Awaitable[None]] | None = None

    async def aclose(self) -> None:
        await self.store.aclose()
        if self.cleanup is not None:
            await self.cleanup()


async def open_backend(kind: str, tmp_path, **kwargs: Any) -> Backend:
    if kind == "memory":
        return Backend(MemoryHistory())
    if kind == "mongomock":
        mock = AsyncMongoMockClient(tz_aware=True)

        async def mock_twin() -> MongoHistory:
            twin = MongoHistory(PyMongoAsyncShim(mock), "storyreel", where="mongomock", **kwargs)
            await twin.start()
            return twin

        return Backend(await mock_twin(), mock_twin)
    if kind == "embedded":
        store = await open_embedded(tmp_path / "db", timeout_s=2.0, **kwargs)

        async def embedded_twin() -> MongoHistory:
            return await open_mongodb(store.server.uri, "storyreel", timeout_s=2.0, **kwargs)

        return Backend(store, embedded_twin)
    if kind == "mongodb":
        if not MONGODB_TEST_URI:
            pytest.skip(NO_REAL_MONGODB)
        uri = MONGODB_TEST_URI
        name = f"storyreel_test_{uuid.uuid4().hex[:12]}"

        async def real_twin() -> MongoHistory:
            return await open_mongodb(uri, name, **kwargs)

        async def drop() -> None:
            client: AsyncMongoClient = AsyncMongoClient(uri)
            try:
                await client.drop_database(name)
            finally:
                await client.close()

        return Backend(await real_twin(), real_twin, drop)
    raise ValueError(kind)


@pytest.fixture(params=BACKENDS)
async def store(request, tmp_path) -> AsyncIterator[Any]:
    backend = await open_backend(request.param, tmp_path)
    try:
        yield backend.store
    finally:
        await backend.aclose()


@pytest.fixture(params=MONGO_BACKENDS)
async def mongo(request, tmp_path) -> AsyncIterator[Backend]:
    """A MongoDB store (``mongo.store``) on each MongoDB-speaking backend."""
    backend = await open_backend(request.param, tmp_path)
    try:
        yield backend
    finally:
        await backend.aclose()
