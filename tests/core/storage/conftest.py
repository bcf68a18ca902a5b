"""Fixtures for the storage tests: moto S3 servers on 127.0.0.1 and stores on them.

One plain-HTTP server and one HTTPS server live for the whole session (moto
starts in ~0.15 s, but there is no need to pay that per test); each test gets
its own bucket, and the server's injected latency, faults and request records
are reset around every test that uses it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aioboto3
import boto3
import pytest
from botocore.config import Config

from app.core.storage.local import LocalBlobStore
from app.core.storage.r2 import R2BlobStore, RetryPolicy

from .s3_harness import ACCESS_KEY, SECRET_KEY, S3TestServer, TlsFiles, make_tls_files

# Retries that keep failure tests fast: three tries, a few milliseconds apart.
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def _http_server() -> Iterator[S3TestServer]:
    with S3TestServer() as server:
        yield server


@pytest.fixture(scope="session")
def _https_server(tls_files: TlsFiles) -> Iterator[S3TestServer]:
    with S3TestServer(tls=tls_files) as server:
        yield server


@pytest.fixture
def s3_server(_http_server: S3TestServer) -> Iterator[S3TestServer]:
    _http_server.reset()
    yield _http_server
    _http_server.reset()


@pytest.fixture
def s3_tls_server(_https_server: S3TestServer) -> Iterator[S3TestServer]:
    _https_server.reset()
    yield _https_server
    _https_server.reset()


_SYNC_CLIENTS: dict[tuple[str, str | None], object] = {}


def sync_client(server: S3TestServer, verify: str | None = None):
    """A plain boto3 client for arranging tests (creating buckets, planting objects)."""
    if server.tls is not None and verify is None:
        verify = str(server.tls.ca)
    cached = _SYNC_CLIENTS.get((server.endpoint_url, verify))
    if cached is None:
        cached = _SYNC_CLIENTS[(server.endpoint_url, verify)] = _new_sync_client(server, verify)
    return cached


def _new_sync_client(server: S3TestServer, verify: str | None):
    return boto3.client(
        "s3", region_name="auto", endpoint_url=server.endpoint_url,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, verify=verify,
        config=Config(s3={"addressing_style": "path"},
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"),
    )


def create_bucket(server: S3TestServer, verify: str | None = None) -> str:
    name = f"test-{uuid.uuid4().hex[:20]}"
    sync_client(server, verify).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "auto"})
    return name


@pytest.fixture
def bucket(s3_server: S3TestServer) -> str:
    name = create_bucket(s3_server)
    s3_server.reset()  # the test sees only its own requests
    return name


MakeR2 = Callable[..., R2BlobStore]


@pytest.fixture(scope="session")
def aioboto3_session() -> aioboto3.Session:
    """One session for all stores, so the S3 service model is loaded once."""
    return aioboto3.Session()


@pytest.fixture
async def make_r2(aioboto3_session: aioboto3.Session) -> AsyncIterator[MakeR2]:
    """Build R2 stores (closed after the test): make_r2(server, bucket, **options)."""
    made: list[R2BlobStore] = []

    def make(server: S3TestServer, bucket: str, **options) -> R2BlobStore:
        options.setdefault("access_key_id", ACCESS_KEY)
        options.setdefault("secret_access_key", SECRET_KEY)
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("session", aioboto3_session)
        # Over plain HTTP nothing is verified; saying so skips loading the system CA
        # bundle (~0.1 s) for every store. HTTPS stores trust the test CA only.
        options.setdefault("verify", str(server.tls.ca) if server.tls is not None else False)
        store = R2BlobStore(endpoint_url=server.endpoint_url, bucket=bucket, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.aclose()


@pytest.fixture
def r2_store(make_r2: MakeR2, s3_server: S3TestServer, bucket: str) -> R2BlobStore:
    return make_r2(s3_server, bucket)


@pytest.fixture(params=["local", "r2"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path):
    """The shared interface suite runs once per implementation."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return request.getfixturevalue("r2_store")
