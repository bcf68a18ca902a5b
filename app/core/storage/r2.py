"""A blob store in Cloudflare R2, over its S3 API (aioboto3).

One client is made on first use and kept until ``aclose()``; its connection
pool (``max_pool_connections``) bounds how many requests run at once, and more
callers simply wait for a free connection. Reads stream in chunks. Transient
failures (timeouts, broken connections, 5xx, SlowDown and other throttling) are
retried here with exponential backoff and jitter; botocore's own retries are
off so there is one policy in one place. Every other failure becomes a typed
``StorageError`` whose message says what to do and never carries a secret.

R2 rejects the aws-chunked uploads with a CRC32 trailer that botocore >= 1.36
sends over HTTPS by default, so the client computes and validates checksums
only where an operation requires them (see FACTS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import aioboto3
import aiohttp
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    SSLError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from pydantic import SecretStr

from app.core.errors import ConfigError, StorageError
from app.core.storage import (
    BlobInfo,
    BucketNotFound,
    ObjectNotFound,
    StorageAuthError,
    StorageUnavailable,
    check_key,
)

if TYPE_CHECKING:
    from app.core.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_CONNECTIONS = 16  # benchmarks/storage.py: 8x serial, the loop stays smooth
DEFAULT_CHUNK_SIZE = 256 * 1024
DELETE_BATCH = 1000  # the S3 limit for one DeleteObjects request

_AUTH_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Unauthorized",
    "InvalidToken", "ExpiredToken", "TokenRefreshRequired", "AuthorizationHeaderMalformed",
})
_THROTTLE_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
    "TooManyRequests", "TooManyRequestsException", "RequestThrottled", "RequestTimeout",
    "InternalError", "ServiceUnavailable",
})
# Answers that mean "this server will not do bulk deletes": fall back to one by one.
_NO_BULK_DELETE_CODES = frozenset({
    "NotImplemented", "InvalidRequest", "MissingContentMD5", "InvalidDigest", "BadDigest",
})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried.

    ``attempts`` counts the first try. The wait before try ``n + 1`` is between
    half and all of ``min(max_delay, base_delay * 2 ** (n - 1))`` (equal jitter),
    so it backs off and concurrent callers do not retry in lockstep.
    """

    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 4.0

    def delay(self, failed_attempt: int) -> float:
        cap = min(self.max_delay, self.base_delay * 2 ** (failed_attempt - 1))
        return cap / 2 + random.uniform(0, cap / 2)


@dataclass(frozen=True, slots=True)
class _Failure:
    """A classified failure: the error to raise, and whether a retry may help."""

    error: StorageError
    transient: bool


class R2BlobStore:
    """Blob store on R2 (or any S3-compatible server, such as moto in tests)."""

    kind = "r2"

    def __init__(
        self,
        *,
        endpoint_url: str,
        access_key_id: str,
        secret_access_key: SecretStr | str,
        bucket: str,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        verify: str | bool | None = None,
        session: aioboto3.Session | None = None,
    ) -> None:
        """``verify``: a CA bundle path (or False) for TLS; ``session``: share one
        ``aioboto3.Session`` between stores to load the S3 service model once."""
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.endpoint_url = endpoint_url.rstrip("/")
        self.bucket = bucket
        self.max_connections = max_connections
        self.retry = retry or RetryPolicy()
        self.chunk_size = chunk_size
        self._host = _host_of(self.endpoint_url)
        self._access_key_id = access_key_id
        self._secret = (
            secret_access_key if isinstance(secret_access_key, SecretStr)
            else SecretStr(secret_access_key)
        )
        self._verify = verify
        self._config = Config(
            region_name="auto",
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=max_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": 1},  # retried here, with one policy
            user_agent_extra="storyreel",
        )
        self._session = session or aioboto3.Session()
        self._s3: Any = None
        self._stack: AsyncExitStack | None = None
        self._client_lock = asyncio.Lock()
        # Requests in flight wait here, not inside botocore, so a burst of callers
        # is prepared and signed a few at a time instead of all at once on the loop.
        self._gate = asyncio.Semaphore(max_connections)
        self._closed = False
        self._bucket_seen = False
        self._bulk_delete = True

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> R2BlobStore:
        """Build from ``Settings`` (R2_* variables); ``options`` go to the constructor."""
        if not settings.r2_configured:
            raise ConfigError("R2 is not configured: set R2_ENDPOINT_URL (or R2_ACCOUNT_ID), "
                              "R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY and R2_BUCKET")
        return cls(
            endpoint_url=settings.r2_endpoint_url,
            access_key_id=settings.r2_access_key_id,
            secret_access_key=settings.r2_secret_access_key,
            bucket=settings.r2_bucket,
            **options,
        )

    def __repr__(self) -> str:
        return f"R2BlobStore(bucket={self.bucket!r}, endpoint={self._host!r})"

    @property
    def where(self) -> str:
        return f"R2 bucket {self.bucket!r} at {self._host}"

    # The client: made once, on first use, on the running loop.
    async def _client(self) -> Any:
        if self._s3 is not None:
            return self._s3
        async with self._client_lock:
            if self._closed:
                raise StorageError("the R2 store is closed; this is a bug in the caller")
            if self._s3 is None:
                await asyncio.to_thread(self._load_service_model)
                stack = AsyncExitStack()
                self._s3 = await stack.enter_async_context(self._session.client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id=self._access_key_id,
                    aws_secret_access_key=self._secret.get_secret_value(),
                    config=self._config,
                    verify=self._verify,
                ))
                self._stack = stack
        return self._s3

    def _load_service_model(self) -> None:
        """Read botocore's S3 model files in a thread (~0.2 s that would stall the loop).

        Best effort: the loader caches what it reads, so creating the client on
        the loop afterwards is quick; if botocore's internals differ, nothing breaks.
        """
        try:
            loader = self._session._session.get_component("data_loader")
            loader.load_service_model("s3", "service-2")
            loader.load_service_model("s3", "endpoint-rule-set-1")
            for name in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
                loader.load_data(name)
        except Exception:  # pragma: no cover - an optimisation only
            log.debug("could not preload the S3 model", exc_info=True)

    async def aclose(self) -> None:
        async with self._client_lock:
            self._closed = True
            stack, self._stack, self._s3 = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    # Retries and the translation of failures.
    async def _call(self, what: str, key: str | None, op: Callable[[Any], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            attempt += 1
            s3 = await self._client()
            try:
                async with self._gate:
                    return await op(s3)
            except (asyncio.CancelledError, StorageError):
                raise
            except Exception as exc:
                failure = self._classify(exc, what, key)
                if not failure.transient or attempt >= self.retry.attempts:
                    if failure.transient:
                        log.warning("R2 %s %s gave up after %d attempts: %s",
                                    what, key or "", attempt, _describe(exc))
                    raise failure.error from exc
                delay = self.retry.delay(attempt)
                log.info("R2 %s %s failed (%s); retry %d of %d in %.2f s",
                         what, key or "", _describe(exc), attempt, self.retry.attempts - 1,
                         delay)
                await asyncio.sleep(delay)

    def _classify(self, exc: Exception, what: str, key: str | None) -> _Failure:
        target = f"{what} {key!r}" if key else what
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {}) or {}
            code = str(error.get("Code") or "")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code == "NoSuchBucket" or (what == "check bucket" and status == 404):
                return _Failure(BucketNotFound(self.bucket, self._host), transient=False)
            if code in ("NoSuchKey", "NotFound") or status == 404:
                return _Failure(ObjectNotFound(key or "?", self.where), transient=False)
            if code == "RequestTimeTooSkewed":
                return _Failure(StorageError(
                    f"R2 at {self._host} refused the request because this computer's clock "
                    "is wrong: set the date and time automatically, then try again"), False)
            if code in _AUTH_CODES or status in (401, 403):
                return _Failure(StorageAuthError(self._host, code or str(status)), False)
            if code in _THROTTLE_CODES or status == 429 or status >= 500:
                return _Failure(StorageUnavailable(
                    f"R2 at {self._host} kept failing ({code or status}) while trying to "
                    f"{target}: it is busy or having trouble; try again in a few minutes"),
                    transient=True)
            message = str(error.get("Message") or "")[:200]
            return _Failure(StorageError(
                f"R2 at {self._host} refused to {target} ({code or status}: {message})"),
                transient=False)
        if isinstance(exc, SSLError):
            return _Failure(StorageUnavailable(
                f"the TLS certificate of {self._host} could not be verified: check the "
                "computer's clock and R2_ENDPOINT_URL"), transient=False)
        if isinstance(exc, BotoConnectionError):  # refused, no route, DNS, connect timeout
            return _Failure(StorageUnavailable(
                f"cannot reach R2 at {self._host}: check the network connection and "
                "R2_ENDPOINT_URL, then try again"), transient=True)
        if isinstance(exc, HTTPClientError | IncompleteReadError | aiohttp.ClientError
                      | asyncio.TimeoutError | ConnectionError):
            return _Failure(StorageUnavailable(
                f"the connection to R2 at {self._host} broke or timed out while trying to "
                f"{target}: check the network connection and try again"), transient=True)
        raise exc  # a bug, not a storage failure: let it through unchanged

    # The BlobStore interface.
    def local_path(self, key: str) -> Path | None:
        return None

    async def put(self, key: str, data: bytes, content_type: str = "image/png") -> BlobInfo:
        check_key(key)
        await self._call("upload", key, lambda s3: s3.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type))
        return BlobInfo(key=key, size=len(data), content_type=content_type)

    async def get_bytes(self, key: str) -> bytes:
        check_key(key)

        async def read(s3: Any) -> bytes:
            resp = await s3.get_object(Bucket=self.bucket, Key=key)
            body = resp["Body"]
            buf = bytearray()
            async with body:
                async for chunk in body.iter_chunks(self.chunk_size):
                    buf += chunk
            return bytes(buf)

        return await self._call("download", key, read)

    async def get_to_file(self, key: str, path: Path) -> Path:
        """Stream ``key`` into ``path`` (trusted, chosen by the caller), atomically."""
        check_key(key)
        path = Path(path)

        async def read(s3: Any) -> Path:
            resp = await s3.get_object(Bucket=self.bucket, Key=key)
            body = resp["Body"]
            sink = _FileSink(path)
            try:
                async with body:
                    async for chunk in body.iter_chunks(self.chunk_size):
                        await sink.write(chunk)
                await sink.finish()
            except BaseException:
                await asyncio.to_thread(sink.discard)
                raise
            return path

        return await self._call("download", key, read)

    async def head(self, key: str) -> BlobInfo | None:
        check_key(key)
        try:
            resp = await self._call("look up", key, lambda s3: s3.head_object(
                Bucket=self.bucket, Key=key))
        except ObjectNotFound:
            # A HEAD answer has no body, so a missing bucket looks like a missing
            # object. Ask once about the bucket so that mistake gets its own message.
            if not self._bucket_seen:
                await self.check()
            return None
        self._bucket_seen = True
        return BlobInfo(key=key, size=int(resp.get("ContentLength", 0)),
                        content_type=resp.get("ContentType") or "application/octet-stream")

    async def list(self, prefix: str = "") -> list[str]:
        async def list_all(s3: Any) -> list[str]:
            keys: list[str] = []
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
            return keys

        keys = await self._call("list", prefix or "/", list_all)
        self._bucket_seen = True
        return sorted(keys)

    async def delete_many(self, keys: list[str]) -> int:
        """Delete ``keys``; returns how many were deleted.

        S3 cannot tell a deleted key from one that was already missing, so here
        missing keys count as deleted.
        """
        keys = [check_key(k) for k in dict.fromkeys(keys)]
        deleted = 0
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            if self._bulk_delete:
                try:
                    deleted += await self._delete_batch(batch)
                    continue
                except _NoBulkDelete:
                    log.info("R2 at %s refuses bulk deletes; deleting one by one", self._host)
                    self._bulk_delete = False
            deleted += await self._delete_each(batch)
        return deleted

    async def _delete_batch(self, batch: list[str]) -> int:
        async def delete(s3: Any) -> dict:
            try:
                return await s3.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": k} for k in batch], "Quiet": True})
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _NO_BULK_DELETE_CODES:
                    raise _NoBulkDelete from exc
                raise

        resp = await self._call("delete", f"{len(batch)} objects", delete)
        errors = resp.get("Errors", [])
        if errors:
            codes = sorted({str(e.get("Code")) for e in errors})
            if _AUTH_CODES.intersection(codes):
                raise StorageAuthError(self._host, codes[0])
            raise StorageError(
                f"R2 at {self._host} could not delete {len(errors)} of {len(batch)} objects "
                f"({', '.join(codes)}), for example {errors[0].get('Key')!r}; try again")
        return len(batch)

    async def _delete_each(self, batch: list[str]) -> int:
        gate = asyncio.Semaphore(self.max_connections)

        async def delete_one(key: str) -> None:
            async with gate:
                await self._call("delete", key, lambda s3: s3.delete_object(
                    Bucket=self.bucket, Key=key))

        async with asyncio.TaskGroup() as group:
            for key in batch:
                group.create_task(delete_one(key))
        return len(batch)

    async def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        """A time-limited GET URL for ``key``. It grants read access: never log it."""
        check_key(key)
        if not 1 <= expires_in <= 7 * 24 * 3600:
            raise ValueError("expires_in must be between 1 second and 7 days")
        s3 = await self._client()
        return await s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in)

    async def check(self) -> None:
        """Ask R2 about the bucket: raises ``BucketNotFound``, ``StorageAuthError``, ..."""
        await self._call("check bucket", self.bucket, lambda s3: s3.head_bucket(
            Bucket=self.bucket))
        self._bucket_seen = True


class _NoBulkDelete(Exception):
    pass


def _host_of(url: str) -> str:
    """``host[:port]`` of ``url``, without any user name or password it may carry."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _describe(exc: Exception) -> str:
    """A short log-safe description: the class and, for S3 answers, the code."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}) or {}
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{error.get('Code') or status}"
    return type(exc).__name__


class _FileSink:
    """Chunks to a temporary file beside ``path``, renamed into place at the end.

    Chunks are gathered and written in worker threads a megabyte at a time, so
    a typical image costs one thread hop, not one per network read.
    """

    FLUSH_AT = 1024 * 1024

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._file: Any = None
        self._tmp: str | None = None

    async def write(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= self.FLUSH_AT:
            await asyncio.to_thread(self._flush)

    async def finish(self) -> None:
        await asyncio.to_thread(self._finish)

    def _flush(self) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=self.path.parent)
            self._file = os.fdopen(fd, "wb")
        data, self._pending, self._pending_size = b"".join(self._pending), [], 0
        self._file.write(data)

    def _finish(self) -> None:
        self._flush()
        self._file.close()
        os.replace(self._tmp, self.path)
        self._file = self._tmp = None

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
        self._file = self._tmp = None
