"""How soon does the pipeline hear that a RunPod job has finished, and at what polling cost?

Drives the real Pipeline with the real RunPodRenderer and RunPodClient (default
PollPolicy, as the app builds it) against the fake RunPod cloud API
(tests/fakes/runpod_server.py) in this process, 256 shots with a set per-job time
(5 s by default: ``queue_s`` in IN_QUEUE, then ``job_s`` IN_PROGRESS), and prints:

- throughput: shots per second, and the wall time against the ideal schedule
  (ceil(shots / concurrency) waves of one job time each, zero overhead);
- notification delay: from the moment a job finished on the server (the fake's
  ``finished_at``) to the ``ShotFinished`` event in the pipeline, median and p95,
  for all jobs, for the first wave (the first ``concurrency`` jobs: without a warm-up the
  client knows nothing of the endpoint, polls at most ``blind_max_s`` apart, and the first
  job it sees ending wakes the waits of the jobs submitted with it) and for later waves (it
  has learnt the job time and polls closely around it);
- requests per job: what the server saw (``/run`` + ``/status`` + ``/cancel``) divided by
  the jobs, which is RunPod's rate-limit view of the polling cost.

``--warmup N`` first renders N shots through the same renderer (not measured), as a
session that has already rendered something would have: the client then knows how long
the endpoint's jobs take from the first wave on. ``--previous N`` instead has an earlier
process (its own client) render N shots into history; the measured client starts fresh
and learns the endpoint's usual job time from that history, as ``open_services`` does.

Real time, not a virtual clock: every wait in the client is an aiohttp round trip
followed by ``asyncio.sleep``, and the cost this benchmark is about (hundreds of jobs
polling at once on one event loop, on a small, busy machine) is CPU and HTTP time that a
virtual clock would count as zero. With 5 s jobs and a concurrency of 64 the 256 shots
take four waves, about 25 s (the app's default concurrency of 8 takes 32 waves, about
165 s); ``--job-s 1`` gives a quick look (the target is stated for 5 s jobs).
Everything shares one process and one loop (server, client, pipeline), so the figures
are an upper bound on the client's own overhead.

Usage: python benchmarks/runpod_client.py [--shots 256] [--job-s 5] [--queue-s 0]
           [--concurrency 64] [--warmup 0 | --previous 0] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core import events as ev  # noqa: E402
from app.core.estimate import recent_runs, usual_job_seconds  # noqa: E402
from app.core.history.memory import MemoryHistory  # noqa: E402
from app.core.ideas import from_text  # noqa: E402
from app.core.models import RunOptions, RunStatus  # noqa: E402
from app.core.pipeline import Pipeline  # noqa: E402
from app.core.renderers.runpod import RunPodRenderer  # noqa: E402
from app.core.runpod import RunPodClient  # noqa: E402
from tests.fakes.runpod_server import FakeRunPod, JobPlan, shot_handler  # noqa: E402
from tests.fakes.writers import StaticWriter  # noqa: E402

ENDPOINT = "bench-shots"
SHOTS_PER_SCENE = 8
TARGET_P95_MS = 300.0
TARGET_REQUESTS = 12.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def measure(shots: int, job_s: float, queue_s: float, concurrency: int, warmup: int,
                  seed: int, previous: int = 0) -> dict:
    fake = FakeRunPod(default_plan=JobPlan(queue_s=queue_s, run_s=job_s), workers=concurrency)
    fake.handlers[ENDPOINT] = shot_handler()  # the contract's output, stand-in bytes
    history = MemoryHistory()
    scenes = -(-shots // SHOTS_PER_SCENE)
    async with fake:
        if previous:  # an earlier process, with its own client, leaves a run in history
            earlier = RunPodRenderer(RunPodClient(fake.api_key, base_url=fake.base_url),
                                     ENDPOINT, bucket="storyreel")
            try:
                await Pipeline(StaticWriter(scenes, SHOTS_PER_SCENE), earlier, history,
                               concurrency=concurrency).start(
                    from_text("An earlier run."), RunOptions(max_shots=previous, seed=seed))
            finally:
                await earlier.aclose()
        client = RunPodClient(fake.api_key, base_url=fake.base_url, rng=random.Random(seed))
        renderer = RunPodRenderer(client, ENDPOINT, bucket="storyreel")
        if previous:  # what open_services does with a cloud renderer
            usual = usual_job_seconds(await recent_runs(history), renderer.name)
            if usual is not None:
                renderer.expect_job_seconds(usual)
        pipeline = Pipeline(StaticWriter(scenes, SHOTS_PER_SCENE), renderer, history,
                            concurrency=concurrency, rng=random.Random(seed))
        heard: dict[str, float] = {}  # job id -> when ShotFinished reached a listener

        def listen(event: ev.Event) -> None:
            if isinstance(event, ev.ShotFinished) and event.shot.job_id:
                heard[event.shot.job_id] = time.monotonic()

        if warmup:
            await pipeline.start(from_text("A warm-up."), RunOptions(max_shots=warmup, seed=seed))
        skip, requests_before = len(fake.submissions), dict(fake.requests)
        pipeline.subscribe(listen)
        cpu0, started = time.process_time(), time.monotonic()
        try:
            run = await pipeline.start(from_text("A benchmark of the RunPod client."),
                                       RunOptions(max_shots=shots, seed=seed))
        finally:
            await renderer.aclose()
        wall, cpu = time.monotonic() - started, time.process_time() - cpu0
    if run.status is not RunStatus.COMPLETED:
        raise SystemExit(f"the run ended {run.status.value}: {run.error}")
    jobs = [j for j in fake.submissions[skip:] if j.endpoint == ENDPOINT]
    delays = [(heard[j.id] - j.finished_at) * 1000 for j in jobs]
    made = {route: n - requests_before.get(route, 0) for route, n in fake.requests.items()}
    sent = made.get("run", 0) + made.get("status", 0) + made.get("cancel", 0)
    return {
        "wall": wall,
        "ideal": math.ceil(shots / concurrency) * (queue_s + job_s),
        "cpu": cpu,
        "jobs": len(jobs),
        "delays": delays,
        "first": delays[:concurrency],
        "later": delays[concurrency:],
        "requests": sent / len(jobs),
        "status_per_job": made.get("status", 0) / len(jobs),
        "max_reads": max(j.status_reads for j in jobs),
    }


def describe(name: str, delays: list[float]) -> str:
    if not delays:
        return f"  {name:<22} (none)"
    return (f"  {name:<22} n={len(delays):<4} median {statistics.median(delays):7.0f} ms   "
            f"p95 {percentile(delays, 0.95):7.0f} ms   max {max(delays):7.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=256)
    parser.add_argument("--job-s", type=float, default=5.0, help="seconds IN_PROGRESS per job")
    parser.add_argument("--queue-s", type=float, default=0.0, help="seconds IN_QUEUE per job")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="shots in flight (the pipeline's fan-out)")
    parser.add_argument("--warmup", type=int, default=0, metavar="N",
                        help="render N shots first, unmeasured, so the client has learnt")
    parser.add_argument("--previous", type=int, default=0, metavar="N",
                        help="an earlier process renders N shots into history first")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print(f"RunPod client benchmark: {args.shots} shots, jobs {args.queue_s:g} s queued + "
          f"{args.job_s:g} s running, concurrency {args.concurrency}, warm-up "
          f"{args.warmup} shots, earlier process {args.previous} shots, real time, "
          f"fake API in process")
    r = asyncio.run(measure(args.shots, args.job_s, args.queue_s, args.concurrency,
                            args.warmup, args.seed, args.previous))
    print(f"throughput: {r['jobs'] / r['wall']:.2f} shots/s; wall {r['wall']:.2f} s against "
          f"{r['ideal']:.2f} s ideal ({r['wall'] / r['ideal']:.3f}x); "
          f"CPU {r['cpu']:.2f} s ({r['cpu'] / r['jobs'] * 1000:.1f} ms per job)")
    print("delay from a job's end on the server to ShotFinished in the pipeline:")
    print(describe("all jobs", r["delays"]))
    print(describe("first wave", r["first"]))
    print(describe("later waves", r["later"]))
    print(f"requests per job: {r['requests']:.2f} (status {r['status_per_job']:.2f}, "
          f"most status reads of one job {r['max_reads']})")
    p95 = percentile(r["delays"], 0.95)
    verdict = "met" if p95 <= TARGET_P95_MS and r["requests"] <= TARGET_REQUESTS else "NOT met"
    print(f"target (5 s jobs): p95 delay <= {TARGET_P95_MS:.0f} ms with <= "
          f"{TARGET_REQUESTS:.0f} requests per job: {verdict} over all jobs "
          f"(p95 {p95:.0f} ms, {r['requests']:.2f} requests)")


if __name__ == "__main__":
    main()
