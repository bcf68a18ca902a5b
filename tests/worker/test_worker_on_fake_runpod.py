"""The desktop's RunPod renderer and the real shot worker, end to end.

The fake RunPod API runs the worker's own ``ShotWorker.handle`` (draft
backend) as the endpoint's handler, and the worker uploads to moto's S3
server standing in for R2. A pipeline run then has every image in the bucket,
matching the sha256 the worker reported and naming, inside the PNG, the run, shot
and attempt the desktop asked for.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus
from app.core.pipeline import Pipeline
from app.core.provenance import read_provenance
from app.core.renderers.runpod import RunPodRenderer
from app.core.runpod import PollPolicy, RunPodClient
from app.worker.draft import MODEL, DraftBackend
from app.worker.handler import ShotWorker
from app.worker.upload import S3Uploader
from tests.fakes.runpod_server import FakeJobFailure, FakeRunPod
from tests.fakes.writers import StaticWriter

BUCKET = "storyreel-e2e"


@pytest.fixture(scope="module")
def s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="auto",
                          aws_access_key_id="test", aws_secret_access_key="test")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    client.endpoint = f"http://{host}:{port}"
    yield client
    server.stop()


async def test_a_run_on_the_fake_api_with_the_real_worker(s3):
    uploader = S3Uploader.from_env({"R2_ENDPOINT_URL": s3.endpoint, "R2_ACCESS_KEY_ID": "test",
                                    "R2_SECRET_ACCESS_KEY": "test", "R2_BUCKET": BUCKET})
    worker = ShotWorker(DraftBackend(), uploader, endpoint="shots")

    def endpoint_handler(job_input):
        output = worker.handle({"id": "fake", "input": job_input})
        if "error" in output:  # what RunPod does with a returned {"error": ...}
            raise FakeJobFailure(output["error"])
        return output

    async with FakeRunPod() as fake:
        fake.handlers["shots"] = endpoint_handler
        client = RunPodClient(fake.api_key, base_url=fake.base_url,
                              poll=PollPolicy(first_s=0.002, max_s=0.01))
        renderer = RunPodRenderer(client, "shots", bucket=BUCKET)
        pipeline = Pipeline(StaticWriter(2, 2), renderer, MemoryHistory(), concurrency=2,
                            rng=random.Random(1))
        try:
            run = await pipeline.start(from_text("A harbour at dawn."),
                                       RunOptions(width=640, height=360, seed=4))
        finally:
            await renderer.aclose()

    assert run.status is RunStatus.COMPLETED, run.error
    assert len(run.shots) == 4
    for shot in run.shots:
        obj = await asyncio.to_thread(s3.get_object, Bucket=BUCKET, Key=shot.image.key)
        data = obj["Body"].read()
        assert hashlib.sha256(data).hexdigest() == shot.image.sha256
        assert Image.open(io.BytesIO(data)).size == (640, 368)  # 360 rounded to a multiple of 16
        assert (shot.image.width, shot.image.height) == (640, 368)
        p = read_provenance(data)
        assert (p.run_id, p.scene, p.shot_id, p.shot_number, p.attempt) == (
            run.run_id, shot.scene, shot.shot_id, shot.number, 1)
        assert (p.prompt, p.seed, p.model, p.endpoint) == (shot.prompt, shot.seed, MODEL,
                                                           "shots")
        assert shot.image.key.endswith(f"/shots/{shot.shot_id}/{p.attempt}.png")
