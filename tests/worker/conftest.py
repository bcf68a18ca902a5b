"""Fixtures of the worker tests: moto's S3 server standing in for R2 (one per module, a
fresh bucket per test), the environment the worker reads on RunPod, and ``run_job``,
which awaits the async ``handler`` as runpod's job loop does."""

from __future__ import annotations

import asyncio
import random

import boto3
import pytest
from moto.server import ThreadedMotoServer

from app.worker import handler as worker_handler

BUCKET = "storyreel"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="auto",
                          aws_access_key_id="test", aws_secret_access_key="test")
    bucket = f"{BUCKET}-{random.randrange(10**9)}"  # a fresh bucket per test
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "auto"})
    client.bucket = bucket
    return client


@pytest.fixture
def worker_env(monkeypatch, s3_endpoint, s3):
    """The endpoint's environment: R2 settings naming this test's bucket, draft backend."""
    for name, value in {"R2_ENDPOINT_URL": s3_endpoint, "R2_ACCESS_KEY_ID": "test",
                        "R2_SECRET_ACCESS_KEY": "test", "R2_BUCKET": s3.bucket,
                        "STORYREEL_WORKER_BACKEND": "draft"}.items():
        monkeypatch.setenv(name, value)
    for name in ("RUNPOD_ENDPOINT_ID", "R2_ACCOUNT_ID", "STORYREEL_WORKER_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    worker_handler.reset()
    yield
    worker_handler.reset()


def run_job(job: dict) -> dict:
    """One job through the async entry point runpod awaits."""
    return asyncio.run(worker_handler.handler(job))
