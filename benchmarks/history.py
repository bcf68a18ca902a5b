"""History on the embedded store: how fast are the queries a person waits for?

Fills an embedded nx-27017 store (in a temporary folder) with 10,000 runs of
24 shots each, laid out exactly as ``MongoHistory`` writes them, then times
through ``MongoHistory`` itself: the newest page of the history list, a deep
page (paged by creation time, no skip), a search, and loading one run with
its shots. Prints the median and 95th percentile of each against its target.

    PYTHONPATH=. .venv/bin/python benchmarks/history.py [--runs 10000] [--shots 24] \
        [--repeat 50] [--folder DIR]

With ``--folder`` the database is kept there, and a later run on it with no more
``--runs`` than it holds reuses it rather than filling it again (opening it then
migrates it, if this code's layout is newer: the time to open says how long that took).

Figures only: nothing here is asserted, and tests never time anything.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.core.history import PageCursor
from app.core.history.documents import (
    NEWEST_FIRST,
    run_document,
    run_from_document,
    shot_document,
    time_key,
)
from app.core.history.factory import open_embedded
from app.core.history.mongo import MongoHistory
from app.core.models import (
    Run,
    RunStatus,
    Scene,
    Script,
    Shot,
    ShotStatus,
    ShotType,
    Stage,
    shot_id_for,
    shot_number,
)

# Issue 16: at 100,000 runs, the newest page within 10 ms and any search within 50 ms.
TARGETS_MS = {"newest page": 10, "deep page": 50, "search": 50, "load one run": 30}
WORDS = ("lighthouse harbour storm keeper door garden city night train river mountain "
         "letter mirror forest bridge station winter market island tower").split()
RARE = "zephyrine"  # in one idea of a hundred
BATCH = 1000
SCREENPLAY_LINE = "EXT. LIGHTHOUSE - NIGHT\n\nWaves break on the rocks below.\n"
SCRIPT_KB = 2  # size of each run's screenplay; --script-kb changes it
# The distinct words of a run's prompts (Run.prompt_words, searched too): 24 shots with
# cast looks of 50-80 words make about 250 distinct words.
PROMPT_VOCABULARY = [f"{a}{b}" for a in ("wide", "close", "keeper", "brass", "storm", "lamp",
                                         "oilskin", "scarf", "boots", "curls", "pencil", "wash")
                     for b in ("", "s", "ed", "ing", "er", "ly", "ness", "ful", "ish", "al",
                               "ion", "ive", "ize", "ity", "ous", "ant", "ent", "ure", "ory",
                               "age", "ary")]
PROMPT_WORDS = 250
RARE_PROMPT = "quillwort"  # in the prompts of one run of a hundred
COMMON = "sketch"  # in the prompts of 99 runs of a hundred
SPARSE = "zephyrine"  # one run in a hundred: a second page is 20 runs further down
LITERAL = "fog."  # punctuation is matched literally, on the runs the index found (1 in 100)
LITERAL_COMMON = "lamp. brass,"  # ... whose words most runs have, but never so: the worst case
SLOW = {"search, punct., common"}


def old_filter(search: str | None) -> dict:
    """The search as it was sent before the words index: one regex on ``search_text``."""
    words = [re.escape(w.casefold()) for w in (search or "").split()]
    if not words:
        return {}
    if len(words) == 1:
        return {"search_text": {"$regex": words[0]}}
    return {"search_text": {"$regex": "^" + "".join(f"(?=[\\s\\S]*{w})" for w in words)}}


def make_run(n: int, at: datetime, rng: random.Random, shots: int) -> Run:
    words = rng.sample(WORDS, 6)
    idea = (f"A {words[0]} and a {words[1]} meet by the {words[2]} one {words[3]}. "
            + ("They find a " + RARE + " in the fog. " if n % 100 == 0 else "")
            + "Everything changes when the " + words[4] + " opens. " * 4)
    scenes = [Scene(index=s, heading=f"EXT. {words[s % 6].upper()} - NIGHT",
                    summary="The keeper climbs the stairs.", characters=["MARA", "TOM"])
              for s in range(1, 7)]
    return Run(
        run_id=f"{at:%Y%m%d-%H%M%S}-{n:06x}", idea=idea, title=f"The {words[5].title()} {n}",
        status=RunStatus.COMPLETED if n % 2000 else RunStatus.RUNNING, stage=Stage.DONE,
        seed=n, writer="draft", renderer="draft",
        script=Script(title=f"The {words[5].title()}", logline="A keeper and a door.",
                      screenplay=SCREENPLAY_LINE * (SCRIPT_KB * 1024 // len(SCREENPLAY_LINE))),
        scenes=scenes, shot_count=shots, shots_done=shots, gpu_seconds=shots * 1.2,
        created_at=at, updated_at=at, finished_at=at + timedelta(minutes=3), wall_seconds=180,
        prompt_words=" ".join([*rng.sample(PROMPT_VOCABULARY, PROMPT_WORDS - 1),
                               RARE_PROMPT if n % 100 == 50 else "sketch"]),
    )


def make_shots(run: Run, shots: int) -> list[Shot]:
    return [
        Shot(run_id=run.run_id, shot_id=shot_id_for(1 + i // 4, 1 + i % 4), scene=1 + i // 4,
             index=1 + i % 4, number=shot_number(1 + i // 4, 1 + i % 4),
             shot_type=ShotType.WIDE, description="The keeper looks out over the dark sea.",
             characters=["MARA"], prompt="storyboard panel, wide shot, a lighthouse " * 8,
             seed=i, status=ShotStatus.DONE, attempts=1, job_id=f"job-{run.run_id}-{i}",
             timings={"gpu_s": 1.2, "wall_s": 2.5}, updated_at=run.created_at)
        for i in range(shots)
    ]


START = datetime(2026, 1, 1, tzinfo=UTC)


async def fill(store: MongoHistory, runs: int, shots: int
               ) -> tuple[list[tuple[datetime, str]], float, float]:
    """Insert the runs and shots; returns (created_at, run_id) of every run, and timings."""
    rng = random.Random(7)
    start = START
    made: list[tuple[datetime, str]] = []
    t_runs = t_shots = 0.0
    for first in range(0, runs, BATCH):
        batch = [make_run(n, start + timedelta(minutes=17 * n), rng, shots)
                 for n in range(first, min(first + BATCH, runs))]
        run_docs = [run_document(r) for r in batch]
        shot_docs = [shot_document(s) for r in batch for s in make_shots(r, shots)]
        t = time.perf_counter()
        await store.database.runs.insert_many(run_docs, ordered=False)
        t_runs += time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, len(shot_docs), BATCH * 2):
            await store.database.shots.insert_many(shot_docs[i:i + BATCH * 2], ordered=False)
        t_shots += time.perf_counter() - t
        made.extend((r.created_at, r.run_id) for r in batch)
        print(f"  inserted {len(made):>6} runs, {len(made) * shots:>7} shots "
              f"({t_runs + t_shots:6.1f} s)", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return made, t_runs, t_shots


def stored_runs(count: int) -> list[tuple[datetime, str]]:
    """(created_at, run_id) of the runs ``fill`` made (and the write rows added), from the
    way it makes them: reading 100,000 runs back takes longer than the server's timeout."""
    made = []
    for n in range(count):
        at = START + timedelta(minutes=17 * n)
        made.append((at, f"{at:%Y%m%d-%H%M%S}-{n:06x}"))
    return made


async def timed(repeat: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    await call(0)  # warm
    times = []
    for i in range(repeat):
        t = time.perf_counter()
        await call(i)
        times.append((time.perf_counter() - t) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


async def main(runs: int, shots: int, repeat: int, folder: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="storyreel-bench-") as tmp:
        where = folder or Path(tmp)
        t = time.perf_counter()
        store = await open_embedded(where / "db", timeout_s=30.0)
        print(f"opened in {time.perf_counter() - t:.1f} s (migrating older documents and "
              "building the search index, if any)")
        try:
            kept = await store.count_runs() if folder is not None else 0
            if kept >= runs:
                # A kept database (``--folder``): filling 100,000 runs takes minutes.
                made = stored_runs(kept)
                print(f"reusing the {kept} runs already in {where / 'db'}")
            else:
                print(f"embedded store in {where / 'db'}: filling {runs} runs x {shots} "
                      f"shots, {SCRIPT_KB} KB screenplay per run")
                made, t_runs, t_shots = await fill(store, runs, shots)
                print(f"insert_many ({BATCH} per batch): runs {t_runs:.1f} s, shots "
                      f"{t_shots:.1f} s, total {t_runs + t_shots:.1f} s "
                      f"({runs * shots / max(t_shots, 1e-9):,.0f} shots/s)")
            runs = len(made)
            # The server shares this process (and its garbage collector): do not let the
            # benchmark's own leftovers make its pauses longer than the app's would be.
            gc.collect()
            gc.freeze()
            newest_first = sorted(made, reverse=True)
            rng = random.Random(11)
            start_at = START
            deep = [newest_first[rng.randrange(runs * 8 // 10, runs - 20)][0]
                    for _ in range(repeat + 1)]
            picks = [rng.choice(made)[1] for _ in range(repeat + 1)]

            async def newest(i: int) -> None:
                page = await store.list_runs(limit=20)
                assert len(page) == 20

            async def deep_page(i: int) -> None:
                page = await store.list_runs(limit=20, before=deep[i])
                assert len(page) == 20

            async def old_list(query: dict, limit: int = 20) -> list[Run]:
                # The baseline: what ``list_runs`` sent before the words index (one regex
                # on ``search_text``, or a creation time bound), on the same documents.
                docs = await store.database.runs.find(query).sort(NEWEST_FIRST).limit(
                    limit).to_list(None)
                return [run_from_document(d) for d in docs]

            async def old_count(search: str | None) -> int:
                cursor = await store.database.runs.aggregate(
                    [{"$match": old_filter(search)}, {"$count": "n"}])
                counted = await cursor.to_list(None)
                return int(counted[0]["n"]) if counted else 0

            def baseline(search: str) -> Callable[[int], Awaitable[object]]:
                async def call(i: int) -> None:
                    await old_list(old_filter(search))
                return call

            async def old_deep_page(i: int) -> None:
                page = await old_list({"page_key": {"$lt": time_key(deep[i])}})
                assert len(page) == 20

            cursors = [PageCursor(at, run_id) for at, run_id in
                       (newest_first[rng.randrange(runs * 8 // 10, runs - 20)]
                        for _ in range(repeat + 1))]

            async def cursor_page(i: int) -> None:
                page = await store.list_runs(limit=20, before=cursors[i])
                assert len(page) == 20

            async def search(i: int) -> None:
                await store.list_runs(limit=20, search=RARE)

            async def search_prompt(i: int) -> None:
                await store.list_runs(limit=20, search=RARE_PROMPT)

            async def search_two(i: int) -> None:
                await store.list_runs(limit=20, search="harbour KEEPER")

            async def search_none(i: int) -> None:
                assert await store.list_runs(limit=20, search="no-such-word") == []

            async def load(i: int) -> None:
                run = await store.get_run(picks[i])
                assert len(run.shots) == shots

            async def count(i: int) -> None:
                await store.count_runs(search=RARE)

            async def count_all(i: int) -> None:
                assert await store.count_runs() >= runs

            async def unfinished(i: int) -> None:
                await store.find_unfinished()

            extra = [make_run(runs + i, start_at + timedelta(minutes=17 * (runs + i)), rng, shots)
                     for i in range(repeat + 1)]

            async def create(i: int) -> None:
                await store.create_run(extra[i])

            async def update(i: int) -> None:
                await store.update_run(extra[i].run_id, {"shots_done": 3, "gpu_seconds": 3.6})

            async def upsert_shot(i: int) -> None:
                shot = make_shots(extra[i], 1)[0]
                shot.status = ShotStatus.RENDERING
                await store.upsert_shot(shot)

            async def old_count_searched(i: int) -> None:
                await old_count(RARE)

            async def old_count_common(i: int) -> None:
                await old_count(COMMON)

            async def count_common(i: int) -> None:
                await store.count_runs(search=COMMON)

            async def search_common(i: int) -> None:
                assert len(await store.list_runs(limit=20, search=COMMON)) == 20

            async def search_literal(i: int) -> None:
                await store.list_runs(limit=20, search=LITERAL)

            async def search_literal_common(i: int) -> None:
                await store.list_runs(limit=20, search=LITERAL_COMMON)

            async def search_page_two(i: int) -> None:
                first = await store.list_runs(limit=20, search=SPARSE)
                await store.list_runs(limit=20, search=SPARSE, before=PageCursor.after(first[-1]))

            async def old_page_two(i: int) -> None:
                first = await old_list(old_filter(SPARSE))
                query = old_filter(SPARSE)
                query["page_key"] = {"$lt": time_key(first[-1].created_at)}
                await old_list(query)

            rows = [
                ("newest page", newest, None), ("deep page, cursor", cursor_page, old_deep_page),
                ("search", search, baseline(RARE)),
                ("search, a prompt word", search_prompt, baseline(RARE_PROMPT)),
                ("search, 2 common words", search_two, baseline("harbour KEEPER")),
                ("search, commonest word", search_common, baseline(COMMON)),
                ("search, 2nd page, 1/100", search_page_two, old_page_two),
                ("search, no match", search_none, baseline("no-such-word")),
                ("search, punctuation", search_literal, baseline(LITERAL)),
                ("search, punct., common", search_literal_common, baseline(LITERAL_COMMON)),
                ("load one run", load, None),
                ("count, all", count_all, None), ("count, searched", count, old_count_searched),
                ("count, commonest word", count_common, old_count_common),
                ("find unfinished", unfinished, None),
                ("write: create run", create, None), ("write: update run", update, None),
                ("write: upsert shot", upsert_shot, None),
            ]
            print(f"\n{runs} runs; baseline: the same query as sent before the words index "
                  "(a regex on search_text), on the same documents")
            print(f"{'query':<24}{'median ms':>10}{'p95 ms':>10}{'target':>9}  {'verdict':<8}"
                  f"{'baseline median':>16}{'p95':>8}")
            for name, call, old in rows:
                # A count reads every run it counts, the worst case every run: fewer repeats.
                few = name.startswith("count") or name in SLOW
                times = await timed(min(repeat, 2) if few else repeat, call)
                target = TARGETS_MS.get(name) or TARGETS_MS.get(name.split(",")[0])
                median = statistics.median(times)
                verdict = ("" if target is None else
                           "ok" if p95(times) <= target else
                           "median ok, p95 over" if median <= target else "OVER")
                line = (f"{name:<24}{median:>10.1f}{p95(times):>10.1f}"
                        f"{(str(target) if target else '-'):>9}  {verdict:<8}")
                if old is not None:
                    old_times = await timed(min(repeat, 2 if few else 10), old)
                    line += f"{statistics.median(old_times):>16.1f}{p95(old_times):>8.1f}"
                print(line, flush=True)
        finally:
            await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--shots", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--script-kb", type=int, default=SCRIPT_KB,
                        help="size of each run's screenplay (it is part of the run document)")
    parser.add_argument("--folder", type=Path, help="keep the database here (default: a temp dir)")
    args = parser.parse_args()
    SCRIPT_KB = args.script_kb
    asyncio.run(main(args.runs, args.shots, args.repeat, args.folder))
