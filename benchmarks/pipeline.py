"""How close does the pipeline come to the ideal schedule?

Drives the real Pipeline with a simulated writer (a fixed latency per stage)
and a simulated renderer (each shot 0.5 s ± 20 %, seeded), and prints:
- wall: the measured wall time of the run;
- ideal: the critical path, writer stages + the makespan of the shots on N
  workers taken in story order with zero overhead (computed, not measured);
- ratio: wall / ideal (target <= 1.01 at 4096 shots, embedded history: issue 16);
- speedup: serial time (writer + every shot one after another) / wall;
- loop lag: how late a 5 ms ticker woke, each tick (p50, p99, max over every tick of
  every run);
- the loop thread's CPU time, and how much of each tick's lag it spent working (the
  rest of a lag is this process waiting for a CPU: a busy machine, not our code);
- history: how long the run's calls to its history store took (median, p95; a shot's
  worker now waits for one round trip, its final state: the passing ones are batched),
  and how many batches the store wrote;
- with ``--why MS``: what the event loop's thread was doing during the gaps longer than
  ``MS`` (a thread samples its Python stack every millisecond while the ticker is late),
  and with ``--profile`` the functions that took the event loop's time (cProfile).

Usage: python benchmarks/pipeline.py [--shots 64 512] [--concurrency 8]
                                     [--history memory|embedded] [--why MS] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import heapq
import io
import pstats
import random
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's app

from app.core.history.factory import open_embedded
from app.core.history.journal import Journal
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import ImageRef, Scene, ScenePlan, Script, ShotPlan, ShotType
from app.core.pipeline import Pipeline
from app.core.renderers import RenderRequest, RenderResult

SHOTS_PER_SCENE = 8

# Measured on this machine before issue 16 (commit bdface9, one run each, the machine
# shared with other work): (history, concurrency, shots) -> ratio, loop lag p50/p99/max ms.
# Load average ~0.3 (at load ~6: 2048 1.1157, 0.2 / 14.6 / 176.3; 4096 1.4602, 0.2 / 68.9
# / 701.3).
BASELINE: dict[tuple[str, int, int], tuple[float, float, float, float]] = {
    ("embedded", 8, 2048): (1.0654, 0.2, 4.8, 157.0),
    ("embedded", 8, 4096): (1.1233, 0.3, 14.1, 268.4),
}


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


class GapSampler:
    """Samples the event loop thread's Python stack every millisecond, but only while the
    ticker is late by more than ``threshold_ms`` (so that it costs nothing otherwise).

    A sample needs the GIL: one taken during a gap shows where the loop's thread was
    waiting or working (in C code that holds the GIL, at the next bytecode after it)."""

    def __init__(self, threshold_ms: float) -> None:
        self.threshold_s = threshold_ms / 1000
        self.last_tick = time.perf_counter()
        self.stacks: Counter[str] = Counter()
        self.gaps = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gap-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def tick(self) -> None:
        self.last_tick = time.perf_counter()

    def _run(self) -> None:
        main = threading.main_thread().ident
        counted = None
        while not self._stop.wait(0.001):
            behind = time.perf_counter() - self.last_tick - 0.005
            if behind < self.threshold_s:
                continue
            frame = sys._current_frames().get(main)
            if frame is None:
                continue
            if counted != self.last_tick:
                counted = self.last_tick
                self.gaps += 1
            self.samples += 1
            stack = traceback.extract_stack(frame)
            if Path(stack[-1].filename).name == "selectors.py":
                self.stacks["(waiting in select: the loop was idle, or this process was "
                            "not given a CPU)"] += 1
                continue
            frames = [fs for fs in stack if "asyncio" not in fs.filename] or stack
            self.stacks[" < ".join(f"{Path(fs.filename).name}:{fs.name}"
                                   for fs in reversed(frames[-4:]))] += 1

    def report(self, top: int = 15) -> str:
        lines = [f"  {self.gaps} gaps over {self.threshold_s * 1000:g} ms, "
                 f"{self.samples} samples (1 ms apart) in them; loop thread in "
                 "(innermost first):"]
        lines += [f"    {c:6d}  {s}" for s, c in self.stacks.most_common(top)]
        return "\n".join(lines)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered \
        else 0.0


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
                  seed: int, sampler: GapSampler | None = None,
                  profile: cProfile.Profile | None = None) -> dict[str, Any]:
    latencies = latencies_for(shots, 0.5, 0.2, seed)
    with tempfile.TemporaryDirectory() as tmp:
        # As the app opens it: with a journal in the data folder (see open_history).
        history = TimedHistory(await open_embedded(Path(tmp) / "db", journal=Journal(
            Path(tmp) / "journal", "benchmark")) if history_kind == "embedded"
            else MemoryHistory())
        pipeline = Pipeline(SimWriter(stage_s, shots), SimRenderer(latencies), history,
                            concurrency=concurrency)
        lags: list[float] = []
        busy: list[float] = []  # CPU time the loop's thread spent in each tick's lag
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                before, cpu = time.perf_counter(), time.thread_time()
                if sampler is not None:
                    sampler.tick()
                await asyncio.sleep(0.005)
                lag = time.perf_counter() - before - 0.005
                lags.append(lag)
                busy.append(min(lag, max(0.0, time.thread_time() - cpu)))

        tick = asyncio.create_task(ticker())
        if sampler is not None:
            sampler.start()
        if profile is not None:
            profile.enable()
        started, cpu_started = time.perf_counter(), time.thread_time()
        run = await pipeline.start(from_text("A benchmark idea."))
        wall = time.perf_counter() - started
        cpu_used = time.thread_time() - cpu_started
        if profile is not None:
            profile.disable()
        if sampler is not None:
            sampler.stop()
        stop.set()
        await tick
        await history.aclose()
    assert run.shots_done == shots, run.status
    writes = getattr(history.store, "writes", None)
    batches = getattr(writes, "batches", 0)
    ordered = [latencies[s.shot_id] for s in sorted(run.shots, key=lambda s: s.order)]
    ideal = 2 * stage_s + ideal_makespan(ordered, concurrency)
    serial = 2 * stage_s + sum(ordered)
    calls = sorted(history.calls)
    return {"wall": wall, "ideal": ideal, "ratio": wall / ideal, "speedup": serial / wall,
            "lags_ms": [x * 1000 for x in lags], "busy_ms": [x * 1000 for x in busy],
            "cpu_s": cpu_used, "calls": len(calls), "batches": batches,
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
    parser.add_argument("--why", type=float, metavar="MS",
                        help="name what the event loop was doing in gaps longer than MS")
    parser.add_argument("--profile", action="store_true",
                        help="print the functions that took the event loop's time")
    args = parser.parse_args()

    print(f"pipeline benchmark: writer {args.stage} s/stage, shots 0.5 s ± 20 %, "
          f"concurrency {args.concurrency}, history {args.history}, {args.repeat} runs each")
    print(f"{'shots':>6} {'wall s':>8} {'ideal s':>8} {'ratio':>7} {'p95 ratio':>9} "
          f"{'speedup':>8} {'loop lag ms p50/p99/max':>24}")
    for shots in args.shots:
        sampler = GapSampler(args.why) if args.why else None
        profile = cProfile.Profile() if args.profile else None
        results = [asyncio.run(measure(shots, args.concurrency, args.stage, args.history, seed,
                                       sampler, profile))
                   for seed in range(args.repeat)]
        ratios = sorted(r["ratio"] for r in results)
        p95 = ratios[min(len(ratios) - 1, round(0.95 * (len(ratios) - 1)))]
        lags = [x for r in results for x in r["lags_ms"]]
        lag = f"{pct(lags, 50):.1f} / {pct(lags, 99):.1f} / {max(lags, default=0):.1f}"
        print(f"{shots:>6} {statistics.median(r['wall'] for r in results):>8.3f} "
              f"{statistics.median(r['ideal'] for r in results):>8.3f} "
              f"{statistics.median(ratios):>7.4f} {p95:>9.4f} "
              f"{statistics.median(r['speedup'] for r in results):>8.2f} {lag:>24}")
        busy = [x for r in results for x in r["busy_ms"]]
        cpu_s = statistics.median(r["cpu_s"] for r in results)
        print(f"{'':>6} loop thread's CPU time: {cpu_s:.2f} s a run; in the ticks' lags, "
              f"ms p50/p99/max: {pct(busy, 50):.1f} / "
              f"{pct(busy, 99):.1f} / {max(busy, default=0):.1f} (lag beyond that: the "
              "process waited for a CPU)")
        print(f"{'':>6} history: {statistics.median(r['calls'] for r in results):.0f} calls "
              f"a run, median {statistics.median(r['call_ms'] for r in results):.2f} ms, "
              f"p95 {statistics.median(r['call_p95_ms'] for r in results):.2f} ms; "
              f"{statistics.median(r['batches'] for r in results):.0f} batches written")
        before = BASELINE.get((args.history, args.concurrency, shots))
        if before:
            print(f"{'':>6} baseline (before issue 16): ratio {before[0]:.4f}, "
                  f"loop lag ms {before[1]:.1f} / {before[2]:.1f} / {before[3]:.1f}")
        if sampler is not None:
            print(sampler.report())
        if profile is not None:
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
    print("target: ratio <= 1.01 and loop lag p99 <= 10 ms at 4096 shots, embedded history")


if __name__ == "__main__":
    main()
