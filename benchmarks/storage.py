"""Storage figures: parallel versus serial downloads from R2, and thumbnail latency.

A moto S3 server runs in a child process on 127.0.0.1, and in front of it a
small delaying proxy in another (aiohttp, keeping connections alive as R2 does;
werkzeug under moto closes every one). The proxy sleeps ``--latency-ms`` before
answering each request, standing in for the round trip to R2. Neither shares
our GIL, as R2 would not.

moto spends several milliseconds of this machine's CPU on every request, which
R2 does not; with 200 requests on a small machine that would cap the parallel
run at moto's speed, not the store's. So by default the proxy answers repeated
GETs of an object from memory (an untimed warm-up pass fills it; every request
still pays the added latency). ``--no-memoise`` sends every request to moto.

1. ``--objects`` PNGs of about ``--size-kb`` each are downloaded through
   ``R2BlobStore.get_to_file``, one at a time and then all at once (bounded by
   the store's connection pool); both times and their ratio are printed, with
   the event loop's lag during the parallel run.
2. Thumbnails through ``PreviewCache``: the time from "object ready" to
   "thumbnail ready", median and p95, measured two ways. (a) The object is in
   the local cache (downloaded and verified) and the thumbnail is asked for:
   the cache's own work. (b) The object has just landed in R2 and the preview
   is asked for: one request at the added latency, the sha256 check, and the
   thumbnail.

Targets (issue 4): parallel >= 6x serial; thumbnail ready <= 80 ms p95 after
the object is available, which is (a). Figures only; nothing is asserted.

    .venv/bin/python benchmarks/storage.py [--objects 200] [--size-kb 300] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from app.core.models import ImageRef  # noqa: E402
from app.core.storage.cache import PreviewCache  # noqa: E402
from app.core.storage.r2 import DEFAULT_MAX_CONNECTIONS, R2BlobStore  # noqa: E402

HARNESS = ROOT / "tests" / "core" / "storage" / "s3_harness.py"
ACCESS_KEY, SECRET_KEY = "bench-access-key", "bench-secret-key"
BUCKET = "storyreel-bench"


def base_png(target_bytes: int) -> bytes:
    """A 1024x576 frame: a gradient with a block of noise sized to hit ``target_bytes``."""
    im = Image.linear_gradient("L").resize((1024, 576)).convert("RGB")
    side = int((target_bytes / 3) ** 0.5)
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    im.paste(noise, (40, 40))
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def variant(png: bytes, n: int) -> bytes:
    """The same picture with a tEXt chunk after IHDR, so every object has its own sha256."""
    payload = b"variant\x00" + str(n).encode()
    chunk = struct.pack(">I", len(payload)) + b"tEXt" + payload
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + payload))
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class LoopLag:
    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            self.lags.append(time.perf_counter() - before - 0.005)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


def start_child(command: list[str]) -> tuple[subprocess.Popen, int]:
    """Start a server that prints ``PORT <n>`` and serves until its stdin closes."""
    proc = subprocess.Popen([sys.executable, *command], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"{command[0]} did not start: {line!r}")
    return proc, int(line.split()[1])


_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer",
                         "upgrade", "proxy-connection", "content-length"})


async def serve_proxy(upstream: str, latency: float, memoise: bool) -> None:
    """The delaying proxy: every request waits ``latency``, then goes to ``upstream``."""
    from aiohttp import ClientSession, TCPConnector, web

    memo: dict[str, tuple[int, dict[str, str], bytes]] = {}
    session = ClientSession(connector=TCPConnector(limit=0), auto_decompress=False)

    async def handle(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(latency)
        body = await request.read()
        cacheable = (memoise and request.method == "GET" and not request.query_string
                     and "Range" not in request.headers)
        if cacheable and request.path in memo:
            status, headers, data = memo[request.path]
            return web.Response(status=status, headers=headers, body=data)
        if request.method == "POST":  # a bulk delete: forget everything
            memo.clear()
        elif request.method != "GET":  # a write: forget that object
            memo.pop(request.path, None)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with session.request(request.method, upstream + request.path_qs,
                                   headers=headers, data=body, allow_redirects=False) as r:
            data = await r.read()
            out = {k: v for k, v in r.headers.items() if k.lower() not in _HOP_BY_HOP}
        if cacheable and r.status == 200:
            memo[request.path] = (r.status, out, data)
        return web.Response(status=r.status, headers=out, body=data)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"PORT {site._server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await runner.cleanup()
    await session.close()


def stop_server(proc: subprocess.Popen) -> None:
    if proc.stdin:
        proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def run(args: argparse.Namespace) -> None:
    moto, moto_port = start_child([str(HARNESS)])
    proxy, port = start_child([__file__, "--serve-proxy", f"http://127.0.0.1:{moto_port}",
                               "--latency-ms", str(args.latency_ms),
                               "--memoise" if args.memoise else "--no-memoise"])
    store = R2BlobStore(endpoint_url=f"http://127.0.0.1:{port}", access_key_id=ACCESS_KEY,
                        secret_access_key=SECRET_KEY, bucket=BUCKET, verify=False,
                        max_connections=args.pool)
    try:
        with tempfile.TemporaryDirectory(prefix="storyreel-bench-") as tmp:
            await bench(store, Path(tmp), args)
    finally:
        await store.aclose()
        stop_server(proxy)
        stop_server(moto)


async def bench(store: R2BlobStore, tmp: Path, args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    s3 = await store._client()  # the store's own client, to make the bucket
    await s3.create_bucket(Bucket=BUCKET,
                           CreateBucketConfiguration={"LocationConstraint": "auto"})
    first_use = time.perf_counter() - t0

    base = base_png(args.size_kb * 1024)
    blobs = {f"runs/bench/shots/s{i:03}/1.png": variant(base, i) for i in range(args.objects)}
    await asyncio.gather(*(store.put(k, v) for k, v in blobs.items()))
    size = statistics.mean(len(v) for v in blobs.values())
    if args.memoise:
        await asyncio.gather(*(store.get_bytes(k) for k in blobs))  # warm-up, untimed
    print(f"{args.objects} objects of {size / 1024:.0f} KB, {args.latency_ms:.0f} ms added per "
          f"request, pool of {store.max_connections} connections, server: "
          f"{'repeated GETs from the proxy' if args.memoise else 'every request to moto'}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"client start-up and first request: {first_use * 1000:.0f} ms")

    # 1. Serial, then parallel.
    out = tmp / "downloads"
    start = time.perf_counter()
    for n, key in enumerate(blobs):
        await store.get_to_file(key, out / "serial" / f"{n}.png")
    serial = time.perf_counter() - start

    lag = LoopLag()
    lag.start()
    start = time.perf_counter()
    await asyncio.gather(*(store.get_to_file(key, out / "parallel" / f"{n}.png")
                           for n, key in enumerate(blobs)))
    parallel = time.perf_counter() - start
    lag.stop()
    for n, data in enumerate(blobs.values()):
        assert (out / "parallel" / f"{n}.png").read_bytes() == data, "a download was wrong"
    ratio = serial / parallel
    print(f"serial   {serial:7.2f} s  ({serial / args.objects * 1000:.1f} ms per object)")
    print(f"parallel {parallel:7.2f} s  ({args.objects / parallel:.0f} objects/s)")
    print(f"ratio    {ratio:7.1f}x   target >= 6x: {'met' if ratio >= 6 else 'NOT met'}")
    print(f"loop lag during parallel downloads: median {statistics.median(lag.lags) * 1000:.1f}"
          f" ms, p99 {percentile(lag.lags, 0.99) * 1000:.1f} ms, "
          f"max {max(lag.lags) * 1000:.1f} ms")

    # 2. Thumbnails.
    refs = [ImageRef(store="r2", bucket=BUCKET, key=k, width=1024, height=576, seed=0,
                     sha256=hashlib.sha256(v).hexdigest(), bytes=len(v))
            for k, v in blobs.items()]
    cache = PreviewCache(tmp / "cache", store)
    local_times: list[float] = []
    for ref in refs:
        await cache.image_path(ref)  # the object is now ready, in the cache
        start = time.perf_counter()
        await cache.thumbnail_path(ref)
        local_times.append(time.perf_counter() - start)

    fresh = PreviewCache(tmp / "cache-2", store)
    remote_times: list[float] = []
    for ref in refs[: min(len(refs), 50)]:
        start = time.perf_counter()
        await fresh.thumbnail_path(ref)
        remote_times.append(time.perf_counter() - start)

    p95 = percentile(local_times, 0.95)
    print(f"thumbnail, object in the cache -> thumbnail ready: median "
          f"{statistics.median(local_times) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
          f"(n={len(local_times)})   target p95 <= 80 ms: {'met' if p95 <= 0.08 else 'NOT met'}")
    print(f"thumbnail, object in R2 -> downloaded, verified, thumbnail ready: median "
          f"{statistics.median(remote_times) * 1000:.1f} ms, p95 "
          f"{percentile(remote_times, 0.95) * 1000:.1f} ms (n={len(remote_times)}, includes "
          f"the {args.latency_ms:.0f} ms added latency)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--size-kb", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--pool", type=int, default=DEFAULT_MAX_CONNECTIONS,
                        help="the store's connection pool (default: the store's default)")
    parser.add_argument("--memoise", action=argparse.BooleanOptionalAction, default=True,
                        help="serve repeated GETs from memory (default) or through moto")
    parser.add_argument("--serve-proxy", metavar="UPSTREAM", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_proxy:
        asyncio.run(serve_proxy(args.serve_proxy, args.latency_ms / 1000, args.memoise))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
