"""How close does the pipeline come to the ideal schedule?

Drives the real Pipeline with a simulated writer (a fixed latency per stage)
and a simulated renderer (each shot 0.5 s ± 20 %, seeded), and prints:
- wall: the measured wall time of the run;
- ideal: the critical path, writer stages + the makespan of the shots on N
  workers taken in story order with zero overhead (computed, not measured);
- ratio: wall / ideal (target <= 1.05);
- speedup: serial time (writer + every shot one after another) / wall;
- loop lag: the longest the event loop was kept from a 5 ms ticker;
- history: how long the run's calls to its history store took (median, p95; a shot's
  worker waits for about four of them in a row, so they add to its critical path).

Usage: python benchmarks/pipeline.py [--shots 64 512] [--concurrency 8] [--history memory|embedded]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from app.core.history.factory import open_embedded
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import ImageRef, Scene, ScenePlan, Script, ShotPlan, ShotType
from app.core.pipeline import Pipeline
from app.core.renderers import RenderRequest, RenderResult

SHOTS_PER_SCENE = 8


class SimWriter:
    name = "simulated"

    def __init__(self, stage_s: float, shots: int) -> None:
        self.stage_s, self.shots = stage_s, shots

    async def write_script(self, idea, *, seed, style):
        await asyncio.sleep(self.stage_s)
        return Script(title="Benchmark", logline="x", screenplay="Title: Benchmark\n")

    async def plan_scenes(self, idea, script, *, seed):
        await asyncio.sleep(self.stage_s)
        scenes = -(-self.shots // SHOTS_PER_SCENE)
        plans = []
        for s in range(1, scenes + 1):
            count = min(SHOTS_PER_SCENE, self.shots - (s - 1) * SHOTS_PER_SCENE)
            plans.append(ScenePlan(
                scene=Scene(index=s, heading=f"INT. ROOM {s} - DAY"),
                shots=[ShotPlan(shot_type=ShotType.MEDIUM, description=f"{s}.{i}")
                       for i in range(1, count + 1)]))
        return plans

    async def aclose(self):
        return None


class SimRenderer:
    name = "simulated"

    def __init__(self, latencies: dict[str, float]) -> None:
        self.latencies = latencies

    async def render_shot(self, request: RenderRequest) -> RenderResult:
        await asyncio.sleep(self.latencies[request.shot.shot_id])
        shot = request.shot
        return RenderResult(image=ImageRef(store="sim", bucket="sim", key=request.key, width=1,
                                           height=1, seed=shot.seed, sha256="0" * 64, bytes=0))

    async def aclose(self):
        return None


class TimedHistory:
    """The store, with every call timed (seconds), for the history line."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.kind = store.kind
        self.calls: list[float] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, name)
        if not callable(method) or name == "aclose":
            return method

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                self.calls.append(time.perf_counter() - started)

        return timed


def latencies_for(shots: int, mean: float, spread: float, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    out = {}
    for n in range(shots):
        scene, index = divmod(n, SHOTS_PER_SCENE)
        out[f"s{scene + 1:02d}-{index + 1:02d}"] = mean * rng.uniform(1 - spread, 1 + spread)
    return out


def ideal_makespan(durations: list[float], workers: int) -> float:
    """Shots in story order, each to the first free worker, with zero overhead."""
    free = [0.0] * workers
    for d in durations:
        heapq.heapreplace(free, free[0] + d)
    return max(free)


async def measure(shots: int, concurrency: int, stage_s: float, history_kind: str,
                  seed: int) -> dict[str, float]:
    latencies = latencies_for(shots, 0.5, 0.2, seed)
    with tempfile.TemporaryDirectory() as tmp:
        history = TimedHistory(await open_embedded(Path(tmp) / "db")
                               if history_kind == "embedded" else MemoryHistory())
        pipeline = Pipeline(SimWriter(stage_s, shots), SimRenderer(latencies), history,
                            concurrency=concurrency)
        lag = 0.0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal lag
            while not stop.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                lag = max(lag, time.perf_counter() - before - 0.005)

        tick = asyncio.create_task(ticker())
        started = time.perf_counter()
        run = await pipeline.start(from_text("A benchmark idea."))
        wall = time.perf_counter() - started
        stop.set()
        await tick
        await history.aclose()
    assert run.shots_done == shots, run.status
    ordered = [latencies[s.shot_id] for s in sorted(run.shots, key=lambda s: s.order)]
    ideal = 2 * stage_s + ideal_makespan(ordered, concurrency)
    serial = 2 * stage_s + sum(ordered)
    calls = sorted(history.calls)
    return {"wall": wall, "ideal": ideal, "ratio": wall / ideal, "speedup": serial / wall,
            "lag_ms": lag * 1000, "calls": len(calls),
            "call_ms": statistics.median(calls) * 1000 if calls else 0.0,
            "call_p95_ms": calls[round(0.95 * (len(calls) - 1))] * 1000 if calls else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--stage", type=float, default=0.3, help="writer seconds per stage")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--history", choices=["memory", "embedded"], default="memory",
                        help="embedded: every state change written to the real default store")
    args = parser.parse_args()

    print(f"pipeline benchmark: writer {args.stage} s/stage, shots 0.5 s ± 20 %, "
          f"concurrency {args.concurrency}, history {args.history}, {args.repeat} runs each")
    print(f"{'shots':>6} {'wall s':>8} {'ideal s':>8} {'ratio':>7} {'p95 ratio':>9} "
          f"{'speedup':>8} {'loop lag ms':>11}")
    for shots in args.shots:
        results = [asyncio.run(measure(shots, args.concurrency, args.stage, args.history, seed))
                   for seed in range(args.repeat)]
        ratios = sorted(r["ratio"] for r in results)
        p95 = ratios[min(len(ratios) - 1, round(0.95 * (len(ratios) - 1)))]
        print(f"{shots:>6} {statistics.median(r['wall'] for r in results):>8.3f} "
              f"{statistics.median(r['ideal'] for r in results):>8.3f} "
              f"{statistics.median(ratios):>7.4f} {p95:>9.4f} "
              f"{statistics.median(r['speedup'] for r in results):>8.2f} "
              f"{max(r['lag_ms'] for r in results):>11.1f}")
        print(f"{'':>6} history: {statistics.median(r['calls'] for r in results):.0f} calls "
              f"a run, median {statistics.median(r['call_ms'] for r in results):.2f} ms, "
              f"p95 {statistics.median(r['call_p95_ms'] for r in results):.2f} ms")
    print("target: ratio <= 1.05 at 64 and 512 shots")


if __name__ == "__main__":
    main()
