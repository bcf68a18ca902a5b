"""The failures a person can meet with R2, each typed, readable and free of secrets."""

from __future__ import annotations

import json
import logging
import socket
import traceback
import urllib.request
from collections.abc import Iterator

import boto3
import pytest

from app.core.storage import (
    BucketNotFound,
    ObjectNotFound,
    StorageAuthError,
    StorageError,
    StorageUnavailable,
)
from app.core.storage.r2 import R2BlobStore

from .conftest import FAST_RETRY, MakeR2
from .s3_harness import Fault, S3TestServer

REAL_SECRET = "real-secret-0123456789abcdefghijklmnop"
WRONG_SECRET = "wrong-secret-9876543210zyxwvutsrqponm"


def _set_moto_auth(server: S3TestServer, count: str) -> None:
    request = urllib.request.Request(
        f"{server.endpoint_url}/moto-api/reset-auth", data=count.encode(), method="POST",
        headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).read()


@pytest.fixture
def moto_credentials(s3_server: S3TestServer, bucket: str) -> Iterator[tuple[str, str]]:
    """A real IAM key pair in moto, with moto checking signatures for this test only."""
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=s3_server.endpoint_url,
                       aws_access_key_id="admin", aws_secret_access_key="admin")
    user = f"u-{bucket}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    _set_moto_auth(s3_server, "0")
    s3_server.reset()
    try:
        yield key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        _set_moto_auth(s3_server, "inf")


def _assert_no_secret(exc: BaseException, caplog: pytest.LogCaptureFixture, *secrets: str):
    shown = "".join(traceback.format_exception(exc)) + repr(exc) + caplog.text
    for secret in secrets:
        assert secret not in shown


async def test_good_credentials_work_under_moto_auth(
    make_r2: MakeR2, s3_server: S3TestServer, bucket: str, moto_credentials: tuple[str, str]
) -> None:
    key_id, secret = moto_credentials
    store = make_r2(s3_server, bucket, access_key_id=key_id, secret_access_key=secret)
    await store.put("runs/r/a.png", b"a")
    assert await store.get_bytes("runs/r/a.png") == b"a"
    await store.check()


@pytest.mark.parametrize("which", ["wrong secret", "unknown key id"])
async def test_wrong_credentials(
    make_r2: MakeR2, s3_server: S3TestServer, bucket: str,
    moto_credentials: tuple[str, str], caplog: pytest.LogCaptureFixture, which: str
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, botocore's included
    key_id, _secret = moto_credentials
    if which == "unknown key id":
        key_id = "AKIAUNKNOWNUNKNOWN00"
    store = make_r2(s3_server, bucket, access_key_id=key_id, secret_access_key=WRONG_SECRET)
    for attempt in (store.put("runs/r/a.png", b"a"), store.get_bytes("runs/r/a.png"),
                    store.head("runs/r/a.png"), store.list("runs/"), store.check()):
        with pytest.raises(StorageAuthError) as caught:
            await attempt
        message = str(caught.value)
        assert "R2_ACCESS_KEY_ID" in message and "R2_SECRET_ACCESS_KEY" in message
        _assert_no_secret(caught.value, caplog, WRONG_SECRET)
    # Refusals are final: one request each, no retries.
    assert len(s3_server.records) == 5


async def test_missing_bucket(make_r2: MakeR2, s3_server: S3TestServer,
                              caplog: pytest.LogCaptureFixture) -> None:
    store = make_r2(s3_server, "no-such-bucket-here")
    for attempt in (store.put("runs/r/a.png", b"a"), store.get_bytes("runs/r/a.png"),
                    store.head("runs/r/a.png"), store.list("runs/"), store.check(),
                    store.delete_many(["runs/r/a.png"])):
        with pytest.raises(BucketNotFound) as caught:
            await attempt
        assert "'no-such-bucket-here'" in str(caught.value)
        assert "R2_BUCKET" in str(caught.value)
    _assert_no_secret(caught.value, caplog, store._secret.get_secret_value())


async def test_missing_object_is_not_mistaken_for_a_missing_bucket(
    r2_store: R2BlobStore, s3_server: S3TestServer
) -> None:
    assert await r2_store.head("runs/r/none.png") is None
    with pytest.raises(ObjectNotFound) as caught:
        await r2_store.get_bytes("runs/r/none.png")
    assert caught.value.key == "runs/r/none.png"
    assert r2_store.bucket in str(caught.value)
    # Not retried: one HEAD, one HEAD of the bucket (asked once), one GET.
    assert [r.method for r in s3_server.records] == ["HEAD", "HEAD", "GET"]
    assert await r2_store.head("runs/r/none-2.png") is None
    assert [r.method for r in s3_server.records] == ["HEAD", "HEAD", "GET", "HEAD"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_server_down(caplog: pytest.LogCaptureFixture, aioboto3_session) -> None:
    caplog.set_level(logging.INFO, logger="app.core.storage")
    port = _closed_port()
    store = R2BlobStore(endpoint_url=f"http://127.0.0.1:{port}", access_key_id="k",
                        secret_access_key=REAL_SECRET, bucket="storyreel",
                        retry=FAST_RETRY, session=aioboto3_session)
    try:
        for attempt in (store.get_bytes("runs/r/a.png"), store.put("runs/r/a.png", b"a"),
                        store.check()):
            with pytest.raises(StorageUnavailable) as caught:
                await attempt
            message = str(caught.value)
            assert f"127.0.0.1:{port}" in message
            assert "network" in message and "R2_ENDPOINT_URL" in message
            assert caught.value.retryable
            _assert_no_secret(caught.value, caplog, REAL_SECRET)
        retries = [r for r in caplog.records if "retry" in r.getMessage()]
        assert len(retries) == 3 * (FAST_RETRY.attempts - 1)  # retried, then gave up
    finally:
        await store.aclose()


def test_every_failure_is_a_storage_error() -> None:
    """The UI catches one type: every typed failure above is a StorageError."""
    for cls in (BucketNotFound, ObjectNotFound, StorageAuthError, StorageUnavailable):
        assert issubclass(cls, StorageError)


async def test_clock_skew_and_other_refusals_are_final_and_named(
    r2_store: R2BlobStore, s3_server: S3TestServer
) -> None:
    s3_server.inject(Fault(403, "RequestTimeTooSkewed", count=1, method="GET"))
    with pytest.raises(StorageError, match="clock") as caught:
        await r2_store.get_bytes("runs/r/a.png")
    assert not isinstance(caught.value, StorageAuthError)

    s3_server.inject(Fault(400, "InvalidArgument", count=1, method="PUT"))
    with pytest.raises(StorageError, match="InvalidArgument"):
        await r2_store.put("runs/r/a.png", b"a")
    assert len(s3_server.records) == 2  # neither was retried
