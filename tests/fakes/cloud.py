"""Fixtures for tests that need the cloud: moto for R2 (one server per session, a
bucket per test) and the fake RunPod API on a background thread (one per test),
with a vLLM writer endpoint and a shot endpoint running the real worker.

A conftest imports them to offer them: ``from tests.fakes.cloud import ...``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.support import (
    SHOT_ENDPOINT,
    WRITER_ENDPOINT,
    BackgroundRunPod,
    MotoS3,
    endpoint_worker,
    writer_handler,
)


@pytest.fixture(scope="session")
def s3() -> Iterator[MotoS3]:
    server = MotoS3().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3: MotoS3) -> str:
    return s3.new_bucket()


@pytest.fixture
def runpod(s3: MotoS3, bucket: str) -> Iterator[BackgroundRunPod]:
    """The fake RunPod API: a vLLM writer endpoint (2 scenes x 3 shots) and a shot
    endpoint running the real worker (draft backend) that uploads to ``bucket``."""
    api = BackgroundRunPod()
    api.fake.handlers[WRITER_ENDPOINT] = writer_handler(scenes=2, shots=3)
    api.fake.handlers[SHOT_ENDPOINT] = endpoint_worker(s3, bucket)
    api.start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def cloud_env(runpod: BackgroundRunPod, s3: MotoS3, bucket: str) -> dict[str, str]:
    """Writer and renderer on the fake RunPod API, storage on moto: variables only."""
    return {**runpod.env(), **s3.r2_env(bucket)}
