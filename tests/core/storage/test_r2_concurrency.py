"""Many downloads at once: all complete, the pool bounds them, the loop stays free."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

from app.core.storage.r2 import R2BlobStore

from .conftest import MakeR2, sync_client
from .s3_harness import S3TestServer

POOL = 8
DOWNLOADS = 100


class LoopLag:
    """Ticks every ``interval`` and records how late each tick woke up."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self.tick_times: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.lags.append(now - before - self.interval)
            self.tick_times.append(now)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_hundred_downloads_in_flight(
    make_r2: MakeR2, s3_server: S3TestServer, bucket: str, tmp_path: Path
) -> None:
    client = sync_client(s3_server)
    blobs = {f"runs/r/shots/s{i:03}/1.png": hashlib.sha256(str(i).encode()).digest() * 1024
             for i in range(DOWNLOADS)}  # 32 KiB each, all different
    await asyncio.gather(*(asyncio.to_thread(client.put_object, Bucket=bucket, Key=k, Body=v)
                           for k, v in blobs.items()))
    store: R2BlobStore = make_r2(s3_server, bucket, max_connections=POOL)
    # The first use loads botocore's S3 model and CA bundle once (~0.2-0.4 s, partly
    # on the loop); the app pays it at start-up. Measure the downloads, not that.
    await store.check()
    s3_server.reset()
    s3_server.set_latency(0.02)  # so requests overlap and queue for the pool

    with LoopLag() as lag:
        start = time.perf_counter()
        paths = await asyncio.gather(*(
            store.get_to_file(key, tmp_path / f"{n:03}.png") for n, key in enumerate(blobs)))
        end = time.perf_counter()

    for path, data in zip(paths, blobs.values(), strict=True):
        assert path.read_bytes() == data
    gets = [r for r in s3_server.records if r.method == "GET"]
    assert len(gets) == DOWNLOADS  # no retries were needed
    # The pool bounds the requests in flight (werkzeug closes every connection,
    # so at the server each request in flight is one open connection)...
    assert 2 <= s3_server.peak_in_flight <= POOL
    # ...and the loop went on running while they were in flight (a blocked loop
    # would not tick at all between the first request and the last answer).
    ticks_during = [t for t in lag.tick_times if start < t < end]
    assert len(ticks_during) >= 3
    print(f"\n{DOWNLOADS} downloads through a pool of {POOL}: {end - start:.2f} s, "
          f"peak in flight {s3_server.peak_in_flight}, loop lag max "
          f"{max(lag.lags) * 1000:.1f} ms over {len(lag.lags)} ticks")
    assert max(lag.lags) < 2.0  # a very generous sanity bound, not a benchmark


async def test_many_concurrent_byte_reads_share_one_pool(
    make_r2: MakeR2, s3_server: S3TestServer, bucket: str
) -> None:
    store = make_r2(s3_server, bucket, max_connections=3)
    await asyncio.gather(*(store.put(f"runs/r/{i}.png", bytes([i]) * 1000) for i in range(12)))
    s3_server.reset()
    s3_server.set_latency(0.02)
    results = await asyncio.gather(*(store.get_bytes(f"runs/r/{i}.png") for i in range(12)))
    assert results == [bytes([i]) * 1000 for i in range(12)]
    assert 2 <= s3_server.peak_in_flight <= 3
