"""Run ownership on the embedded store: what a heartbeat and a takeover cost.

Fills an embedded nx-27017 store with ``--runs`` runs, then times through
``MongoHistory`` the writes ownership makes: taking a run (read the owner, one
conditional update), renewing its heartbeat, releasing it. Then it renews a
held run every ``--interval`` seconds for a few seconds while measuring how late
the event loop wakes up (a stall would show there). Prints medians and the 95th
percentile. Figures only: nothing is asserted.

    .venv/bin/python benchmarks/ownership.py [--runs 10000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.core.history.documents import run_document
from app.core.history.factory import open_embedded
from app.core.models import Run
from app.core.ownership import Identity, Leases, now_ms


def figures(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"{name:<34} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms")


async def lateness(seconds: float) -> list[float]:
    """How late 5 ms sleeps wake up, for ``seconds``."""
    lags = []
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append(time.perf_counter() - started - 0.005)
    return lags


async def main(runs: int, repeat: int, interval: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = await open_embedded(Path(folder) / "db", timeout_s=10.0)
        try:
            t0 = datetime(2026, 1, 1, tzinfo=UTC)
            docs = [run_document(Run(run_id=f"r{n:06d}", idea="an idea",
                                     created_at=t0 + timedelta(seconds=n))) for n in range(runs)]
            for i in range(0, len(docs), 1000):
                await store.database["runs"].insert_many(docs[i:i + 1000])
            target = f"r{runs // 2:06d}"
            me = Identity.of_this_process(Path(folder))

            claim, renew, release = [], [], []
            for _ in range(repeat):
                leases = Leases(store, me, interval_s=3600)
                started = time.perf_counter()
                await leases.acquire(target)
                claim.append(time.perf_counter() - started)
                started = time.perf_counter()
                await store.renew_run_owner(target, me.owner(now_ms()))
                renew.append(time.perf_counter() - started)
                started = time.perf_counter()
                await leases.release(target)
                release.append(time.perf_counter() - started)
            print(f"{runs} runs in the store")
            figures("take a run (read + update)", claim)
            figures("renew its heartbeat", renew)
            figures("release it", release)

            figures("event loop lateness, no run held", await lateness(3.0))
            leases = Leases(store, me, interval_s=interval)
            await leases.acquire(target)
            lags = await lateness(3.0)
            await leases.release(target)
            print(f"heartbeats written in 3 s at {interval:g} s: {leases.beats}")
            figures("event loop lateness, heartbeating", lags)
        finally:
            await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05,
                        help="heartbeat interval for the event-loop check (the app uses 5 s)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.repeat, args.interval))
