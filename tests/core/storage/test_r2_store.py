"""R2BlobStore specifics: HTTPS and the checksum trap, settings, the client's life, retries."""

from __future__ import annotations

import asyncio
import logging
import ssl
import urllib.request
from pathlib import Path

import aioboto3
import pytest
from botocore.config import Config

from app.core.settings import parse
from app.core.storage import (
    BlobStore,
    StorageAuthError,
    StorageError,
    StorageUnavailable,
    open_blob_store,
)
from app.core.storage.local import LocalBlobStore
from app.core.storage.r2 import R2BlobStore, RetryPolicy

from .conftest import MakeR2, create_bucket, sync_client
from .s3_harness import ACCESS_KEY, SECRET_KEY, Fault, S3TestServer

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 5000


def _put_requests(server: S3TestServer) -> list:
    """Object uploads (a bucket creation is a PUT of the bucket alone)."""
    return [r for r in server.records if r.method == "PUT" and r.path.count("/") > 1]


# HTTPS: the path on which botocore >= 1.36 would send what R2 rejects.
async def test_round_trip_over_https_sends_plain_signed_bodies(
    s3_tls_server: S3TestServer, make_r2: MakeR2, tmp_path: Path
) -> None:
    bucket = create_bucket(s3_tls_server)
    store = make_r2(s3_tls_server, bucket)
    key = "runs/r1/shots/s1/1.png"

    await store.put(key, PNG)
    assert await store.get_bytes(key) == PNG
    assert (await store.get_to_file(key, tmp_path / "a.png")).read_bytes() == PNG
    assert (await store.head(key)).size == len(PNG)
    assert await store.list("runs/r1/") == [key]
    url = await store.presigned_url(key, expires_in=60)
    assert url.startswith(s3_tls_server.endpoint_url)
    context = ssl.create_default_context(cafile=str(s3_tls_server.tls.ca))
    body = await asyncio.to_thread(
        lambda: urllib.request.urlopen(url, context=context, timeout=10).read())
    assert body == PNG
    assert await store.delete_many([key]) == 1
    assert await store.list("runs/r1/") == []

    (put,) = _put_requests(s3_tls_server)
    assert "aws-chunked" not in put.headers.get("content-encoding", "")
    assert "x-amz-trailer" not in put.headers
    assert not put.headers["x-amz-content-sha256"].startswith("STREAMING")
    assert int(put.headers["content-length"]) == len(PNG)


async def test_default_botocore_config_would_send_the_trailer_r2_rejects(
    s3_tls_server: S3TestServer, aioboto3_session: aioboto3.Session
) -> None:
    """The control for the test above: the harness does see the trap when it is there."""
    bucket = create_bucket(s3_tls_server)
    async with aioboto3_session.client(
        "s3", region_name="auto", endpoint_url=s3_tls_server.endpoint_url,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        verify=str(s3_tls_server.tls.ca), config=Config(s3={"addressing_style": "path"}),
    ) as s3:
        await s3.put_object(Bucket=bucket, Key="k.png", Body=PNG)
    (put,) = _put_requests(s3_tls_server)
    assert put.headers.get("content-encoding") == "aws-chunked"
    assert put.headers.get("x-amz-trailer") == "x-amz-checksum-crc32"


async def test_untrusted_certificate_is_a_clear_error_not_retried(
    s3_tls_server: S3TestServer, make_r2: MakeR2
) -> None:
    store = make_r2(s3_tls_server, "any-bucket", verify=True)  # system CAs only
    with pytest.raises(StorageUnavailable, match="certificate") as caught:
        await store.get_bytes("runs/r/x.png")
    assert "127.0.0.1" in str(caught.value)
    assert s3_tls_server.records == []  # the handshake failed; nothing was sent


# Settings and the composition root
def _r2_settings(tmp_path: Path, endpoint: str, bucket: str):
    return parse({
        "R2_ENDPOINT_URL": endpoint, "R2_ACCESS_KEY_ID": ACCESS_KEY,
        "R2_SECRET_ACCESS_KEY": SECRET_KEY, "R2_BUCKET": bucket,
    }, home=tmp_path)


async def test_open_blob_store_picks_r2_when_configured(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    store = open_blob_store(_r2_settings(tmp_path, s3_server.endpoint_url, bucket))
    try:
        assert isinstance(store, R2BlobStore) and isinstance(store, BlobStore)
        assert store.kind == "r2" and store.bucket == bucket
        await store.put("runs/r/shots/s/1.png", PNG)
        assert sync_client(s3_server).get_object(
            Bucket=bucket, Key="runs/r/shots/s/1.png")["Body"].read() == PNG
        assert SECRET_KEY not in repr(store) and SECRET_KEY not in str(vars(store))
    finally:
        await store.aclose()


async def test_open_blob_store_is_local_otherwise(tmp_path: Path) -> None:
    settings = parse({}, home=tmp_path)
    store = open_blob_store(settings)
    assert isinstance(store, LocalBlobStore)
    assert store.root == settings.blobs_dir.resolve()
    await store.put("runs/r/shots/s/1.png", PNG)
    assert (settings.blobs_dir / "runs/r/shots/s/1.png").read_bytes() == PNG


def test_from_settings_refuses_unconfigured(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="R2 is not configured"):
        R2BlobStore.from_settings(parse({}, home=tmp_path))


# The client: one, made lazily, closed once.
class CountingSession:
    def __init__(self, inner: aioboto3.Session) -> None:
        self.inner = inner
        self.clients = 0

    def client(self, *args, **kwargs):
        self.clients += 1
        return self.inner.client(*args, **kwargs)


async def test_one_client_made_lazily_and_reused(
    s3_server: S3TestServer, bucket: str, make_r2: MakeR2,
    aioboto3_session: aioboto3.Session
) -> None:
    session = CountingSession(aioboto3_session)
    store = make_r2(s3_server, bucket, session=session)
    assert session.clients == 0  # nothing made or contacted by the constructor
    await asyncio.gather(*(store.head(f"runs/r/{i}.png") for i in range(20)))
    await store.put("runs/r/a.png", b"a")
    await store.get_bytes("runs/r/a.png")
    assert session.clients == 1

    await store.aclose()
    await store.aclose()  # closing twice is fine
    with pytest.raises(StorageError, match="closed"):
        await store.get_bytes("runs/r/a.png")


# Transient failures are retried, with backoff; the rest are not.
@pytest.mark.parametrize(("status", "code"), [
    (503, "SlowDown"), (500, "InternalError"), (429, "TooManyRequests"), (502, "BadGateway"),
])
async def test_transient_errors_are_retried(
    r2_store: R2BlobStore, s3_server: S3TestServer, status: int, code: str
) -> None:
    await r2_store.put("runs/r/t.png", PNG)
    s3_server.inject(Fault(status, code, count=2, method="GET"))
    assert await r2_store.get_bytes("runs/r/t.png") == PNG
    gets = [r for r in s3_server.records if r.method == "GET"]
    assert len(gets) == 3


async def test_uploads_are_retried_too(r2_store: R2BlobStore, s3_server: S3TestServer) -> None:
    s3_server.inject(Fault(503, "SlowDown", count=1, method="PUT"))
    await r2_store.put("runs/r/u.png", PNG)
    assert len(_put_requests(s3_server)) == 2
    assert await r2_store.get_bytes("runs/r/u.png") == PNG


async def test_persistent_throttling_gives_up_with_a_readable_error(
    r2_store: R2BlobStore, s3_server: S3TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    s3_server.inject(Fault(503, "SlowDown", count=100, method="GET"))
    caplog.set_level(logging.INFO, logger="app.core.storage")
    with pytest.raises(StorageUnavailable) as caught:
        await r2_store.get_bytes("runs/r/x.png")
    message = str(caught.value)
    assert "SlowDown" in message and "try again" in message
    assert caught.value.retryable
    assert len([r for r in s3_server.records if r.method == "GET"]) == r2_store.retry.attempts
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == r2_store.retry.attempts - 1


async def test_a_read_timeout_is_retried(
    make_r2: MakeR2, s3_server: S3TestServer, bucket: str
) -> None:
    store = make_r2(s3_server, bucket, read_timeout=0.3)
    await store.put("runs/r/slow.png", PNG)
    s3_server.inject(Fault(503, "Hung", count=1, method="GET", delay=2.0))
    assert await store.get_bytes("runs/r/slow.png") == PNG
    assert len([r for r in s3_server.records if r.method == "GET"]) == 2


async def test_a_broken_download_is_retried_and_leaves_no_partial_file(
    r2_store: R2BlobStore, s3_server: S3TestServer, tmp_path: Path
) -> None:
    await r2_store.put("runs/r/cut.png", PNG)
    s3_server.inject(Fault(200, "", count=1, method="GET", truncate=True))
    path = await r2_store.get_to_file("runs/r/cut.png", tmp_path / "out" / "cut.png")
    assert path.read_bytes() == PNG
    assert len([r for r in s3_server.records if r.method == "GET"]) == 2

    s3_server.inject(Fault(200, "", count=100, method="GET", truncate=True))
    with pytest.raises(StorageUnavailable, match="broke or timed out"):
        await r2_store.get_to_file("runs/r/cut.png", tmp_path / "out" / "again.png")
    with pytest.raises(StorageUnavailable):
        await r2_store.get_bytes("runs/r/cut.png")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cut.png"]


async def test_permanent_errors_are_not_retried(
    r2_store: R2BlobStore, s3_server: S3TestServer
) -> None:
    s3_server.inject(Fault(403, "AccessDenied", count=5, method="GET"))
    with pytest.raises(StorageAuthError):
        await r2_store.get_bytes("runs/r/x.png")
    assert len([r for r in s3_server.records if r.method == "GET"]) == 1


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(attempts=8, base_delay=0.1, max_delay=1.0)
    for attempt, cap in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (7, 1.0)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(delays) > 1  # jittered, so concurrent callers spread out


# Deletes: in batches, with a fallback for servers that refuse DeleteObjects.
async def test_delete_many_falls_back_to_single_deletes(
    r2_store: R2BlobStore, s3_server: S3TestServer
) -> None:
    keys = [f"runs/r/shots/s{i}/1.png" for i in range(4)]
    await asyncio.gather(*(r2_store.put(k, b"x") for k in keys))
    s3_server.inject(Fault(501, "NotImplemented", count=1, method="POST",
                           query_contains="delete"))
    assert await r2_store.delete_many(keys[:2]) == 2
    assert await r2_store.list("runs/r/") == keys[2:]
    assert len([r for r in s3_server.records if r.method == "DELETE"]) == 2

    assert await r2_store.delete_many(keys[2:]) == 2  # no second bulk attempt
    assert await r2_store.list("runs/r/") == []
    assert len([r for r in s3_server.records if r.method == "POST"]) == 1


async def test_delete_many_handles_more_than_one_batch(
    r2_store: R2BlobStore, s3_server: S3TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.core.storage.r2.DELETE_BATCH", 3)
    keys = [f"runs/r/{i:02}.png" for i in range(7)]
    await asyncio.gather(*(r2_store.put(k, b"x") for k in keys))
    assert await r2_store.delete_many(keys) == 7
    assert await r2_store.list("runs/") == []
    assert len([r for r in s3_server.records if r.method == "POST"]) == 3
