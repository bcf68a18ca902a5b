"""What every history store does, whatever it keeps runs in.

One suite, run against each backend of ``conftest.BACKENDS``. MongoDB keeps
times to the millisecond (BSON dates), so times are compared at that grain.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.core.errors import RunNotFound
from app.core.history import DayUsage, HistoryStore, PageCursor
from app.core.history.documents import run_document
from app.core.models import (
    Character,
    ImageRef,
    Run,
    RunOwner,
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

T0 = datetime(2026, 11, 20, 9, 30, 15, 123000, tzinfo=UTC)


def make_run(n: int = 0, *, title: str = "", idea: str = "an idea", at: datetime | None = None,
             status: RunStatus = RunStatus.RUNNING, **fields) -> Run:
    at = at or T0 + timedelta(minutes=n)
    return Run(run_id=f"{at:%Y%m%d-%H%M%S}-{n:06x}", idea=idea, title=title or f"Run {n}",
               status=status, created_at=at, updated_at=at, **fields)


def make_shot(run: Run, scene: int, index: int, **fields) -> Shot:
    return Shot(run_id=run.run_id, shot_id=shot_id_for(scene, index), scene=scene, index=index,
                number=shot_number(scene, index), shot_type=ShotType.WIDE,
                description=f"shot {scene}.{index}", **fields)


def same_instant(a: datetime | None, b: datetime) -> bool:
    assert a is not None and a.tzinfo is not None, f"{a!r} is not timezone-aware"
    return abs(a - b) < timedelta(milliseconds=1)


async def test_every_store_has_the_whole_interface(store):
    assert isinstance(store, HistoryStore)
    assert isinstance(store.kind, str) and store.kind


async def test_a_created_run_reads_back_whole(store):
    run = make_run(
        1, title="The Keeper", idea="A lighthouse keeper finds a door in the sea.",
        source="keeper.txt", seed=42, style="noir", max_shots=12, writer="draft",
        renderer="draft", stage=Stage.PLANNING_SCENES,
        script=Script(title="The Keeper", logline="A keeper and a door.",
                      screenplay="EXT. LIGHTHOUSE - NIGHT\n\nWaves.",
                      characters=[Character(name="MARA", description="grey coat")]),
        scenes=[Scene(index=1, heading="EXT. LIGHTHOUSE - NIGHT", characters=["MARA"])],
    )
    await store.create_run(run)

    got = await store.get_run(run.run_id)

    assert got.model_dump(exclude={"created_at", "updated_at"}) == run.model_dump(
        exclude={"created_at", "updated_at"})
    assert same_instant(got.created_at, run.created_at)
    assert got.shots == []


async def test_an_unknown_run_is_not_found(store):
    with pytest.raises(RunNotFound):
        await store.get_run("20260101-000000-000000")
    with pytest.raises(RunNotFound):
        await store.update_run("20260101-000000-000000", {"title": "x"})


async def test_update_sets_fields_and_leaves_the_others(store):
    run = make_run(1, title="Before")
    await store.create_run(run)
    finished = datetime(2026, 11, 20, 10, 0, 0, 456789, tzinfo=UTC)

    await store.update_run(run.run_id, {
        "title": "After", "status": "completed", "stage": "done", "shots_done": 3,
        "gpu_seconds": 1.5, "finished_at": finished.isoformat(),
        "scenes": [{"index": 1, "heading": "INT. ROOM - DAY", "summary": "", "characters": []}],
    })
    got = await store.get_run(run.run_id)

    assert (got.title, got.status, got.stage) == ("After", RunStatus.COMPLETED, Stage.DONE)
    assert (got.shots_done, got.gpu_seconds) == (3, 1.5)
    assert got.scenes[0].heading == "INT. ROOM - DAY"
    assert same_instant(got.finished_at, finished)
    assert got.idea == run.idea and same_instant(got.created_at, run.created_at)


async def test_writing_the_same_run_and_shot_twice_keeps_one_of_each(store):
    run = make_run(1)
    await store.create_run(run)
    await store.create_run(run)
    shot = make_shot(run, 1, 1)
    await store.upsert_shot(shot)
    await store.upsert_shot(shot)
    shot.status, shot.job_id, shot.attempts = ShotStatus.RENDERING, "job-1", 1
    await store.upsert_shot(shot)

    got = await store.get_run(run.run_id)

    assert await store.count_runs() == 1
    assert [(s.shot_id, s.status, s.job_id) for s in got.shots] == [
        ("s01-01", ShotStatus.RENDERING, "job-1")]


async def test_shots_come_back_in_story_order_with_every_field(store):
    run = make_run(1)
    await store.create_run(run)
    for scene, index in [(2, 1), (1, 10), (1, 2), (10, 1), (1, 1)]:
        await store.upsert_shot(make_shot(run, scene, index))
    done = make_shot(run, 2, 2, status=ShotStatus.DONE, attempts=2, job_id="job-9",
                     seed=1234, prompt="a wide shot", timings={"gpu_s": 1.25, "wall_s": 2.0},
                     image=ImageRef(store="local", bucket="b", key="runs/x/1.png", width=1024,
                                    height=576, seed=1234, sha256="ab" * 32, bytes=100))
    await store.upsert_shot(done)

    got = await store.get_run(run.run_id)

    assert [s.order for s in got.shots] == [(1, 1), (1, 2), (1, 10), (2, 1), (2, 2), (10, 1)]
    back = got.shot("s02-02")
    assert back.model_dump(exclude={"updated_at"}) == done.model_dump(exclude={"updated_at"})
    assert same_instant(back.updated_at, done.updated_at)


async def test_shots_of_one_run_stay_with_it(store):
    first, second = make_run(1), make_run(2)
    for run in (first, second):
        await store.create_run(run)
        await store.upsert_shot(make_shot(run, 1, 1))
    await store.upsert_shot(make_shot(second, 1, 2))

    assert len((await store.get_run(first.run_id)).shots) == 1
    assert len((await store.get_run(second.run_id)).shots) == 2


async def test_list_is_newest_first_without_shots(store):
    runs = [make_run(n) for n in (3, 1, 4, 0, 2)]
    for run in runs:
        await store.create_run(run)
        await store.upsert_shot(make_shot(run, 1, 1))

    listed = await store.list_runs(limit=10)

    assert [r.run_id for r in listed] == [make_run(n).run_id for n in (4, 3, 2, 1, 0)]
    assert all(r.shots == [] for r in listed)
    assert [r.run_id for r in await store.list_runs(limit=2)] == [
        make_run(4).run_id, make_run(3).run_id]


async def test_paging_by_creation_time_sees_every_run_once(store):
    for n in range(8):
        await store.create_run(make_run(n))

    pages, before = [], None
    while True:
        page = await store.list_runs(limit=3, before=before)
        if not page:
            break
        pages.append([r.run_id for r in page])
        before = page[-1].created_at

    assert [len(p) for p in pages] == [3, 3, 2]
    assert [rid for page in pages for rid in page] == [make_run(n).run_id
                                                       for n in reversed(range(8))]


async def test_paging_before_a_time_excludes_runs_at_or_after_it(store):
    for n in range(4):
        await store.create_run(make_run(n))

    older = await store.list_runs(before=make_run(2).created_at)

    assert [r.run_id for r in older] == [make_run(1).run_id, make_run(0).run_id]


async def test_paging_before_a_run_held_in_memory_excludes_that_run(store):
    # The caller's run has microseconds; MongoDB kept milliseconds. Still excluded.
    runs = [make_run(n, at=T0 + timedelta(minutes=n, microseconds=456)) for n in range(3)]
    for run in runs:
        await store.create_run(run)

    older = await store.list_runs(before=runs[2].created_at)

    assert [r.run_id for r in older] == [runs[1].run_id, runs[0].run_id]


SEARCHABLE = {
    "dot": ("The a.b Affair", "plain idea"),
    "nodot": ("The axb Affair", "plain idea"),
    "paren": ("Plain", "a door opens (x marks it"),
    "dollar": ("Price $ne plus", "costs"),
    "keeper": ("Storm Night", "A Lighthouse KEEPER and a door"),
    "star": ("Stars", "look .* here? [a-z]+ {2} ^$ | \\d"),
}


async def seed_searchable(store) -> dict[str, str]:
    ids = {}
    for n, (name, (title, idea)) in enumerate(SEARCHABLE.items()):
        run = make_run(n, title=title, idea=idea)
        ids[name] = run.run_id
        await store.create_run(run)
    return ids


@pytest.mark.parametrize(("query", "expected"), [
    ("keeper", {"keeper"}),                       # in the idea, any case
    ("STORM lighthouse", {"keeper"}),             # every word, title or idea
    ("storm affair", set()),                      # every word must be found
    ("door", {"paren", "keeper"}),
    ("a.b", {"dot"}),                             # a dot is a dot, not any character
    ("(x", {"paren"}),                            # unbalanced parenthesis
    ("$ne", {"dollar"}),                          # an operator name is just text
    (".*", {"star"}),
    ("[a-z]+ {2} ^$ | \\d", {"star"}),
    ("\\", {"star"}),
    ("$where", set()),
    ("   ", set(SEARCHABLE)),                     # no words: everything
])
async def test_search_finds_words_literally(store, query, expected):
    ids = await seed_searchable(store)

    found = {r.run_id for r in await store.list_runs(limit=50, search=query)}

    assert found == {ids[name] for name in expected}
    assert await store.count_runs(search=query) == len(expected)


async def test_search_finds_runs_by_the_words_of_their_prompts(store):
    lamp = make_run(1, title="Storm", idea="a keeper", prompt_words="wide shot lamp brass")
    sea = make_run(2, title="Sea", idea="a boat", prompt_words="close-up rope")
    await store.create_run(lamp)
    await store.create_run(sea)

    assert [r.run_id for r in await store.list_runs(search="BRASS keeper")] == [lamp.run_id]
    assert await store.count_runs(search="rope") == 1

    # the words change as prompts change (a regenerated shot, an edited look)
    await store.update_run(sea.run_id, {"prompt_words": "close-up anchor"})
    assert await store.count_runs(search="rope") == 0
    assert [r.run_id for r in await store.list_runs(search="anchor")] == [sea.run_id]


async def test_search_pages_like_the_list(store):
    for n in range(5):
        await store.create_run(make_run(n, title=f"Harbour {n}" if n % 2 else f"Field {n}"))

    first = await store.list_runs(limit=1, search="harbour")
    rest = await store.list_runs(limit=5, search="harbour", before=first[0].created_at)

    assert [r.title for r in first + rest] == ["Harbour 3", "Harbour 1"]


async def test_count(store):
    assert await store.count_runs() == 0
    for n in range(3):
        await store.create_run(make_run(n))
    assert await store.count_runs() == 3


async def test_delete_removes_the_run_and_its_shots_only(store):
    doomed, kept = make_run(1), make_run(2)
    for run in (doomed, kept):
        await store.create_run(run)
        await store.upsert_shot(make_shot(run, 1, 1))
        await store.upsert_shot(make_shot(run, 1, 2))

    assert await store.delete_run(doomed.run_id) is True
    assert await store.delete_run(doomed.run_id) is False

    with pytest.raises(RunNotFound):
        await store.get_run(doomed.run_id)
    assert [r.run_id for r in await store.list_runs()] == [kept.run_id]
    assert len((await store.get_run(kept.run_id)).shots) == 2
    await store.create_run(doomed)  # the same id again starts with no shots
    assert (await store.get_run(doomed.run_id)).shots == []


async def test_unfinished_runs_are_the_running_ones_newest_first(store):
    statuses = [RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.RUNNING, RunStatus.FAILED,
                RunStatus.PARTIAL, RunStatus.CANCELLED, RunStatus.RUNNING]
    for n, status in enumerate(statuses):
        await store.create_run(make_run(n, status=status))
    await store.update_run(make_run(6).run_id, {"status": "completed"})

    unfinished = await store.find_unfinished()

    assert [r.run_id for r in unfinished] == [make_run(2).run_id, make_run(0).run_id]


async def test_usage_totals_per_day(store):
    day1 = datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
    day2 = datetime(2026, 11, 21, 0, 0, 1, tzinfo=UTC)
    late = datetime(2026, 11, 21, 1, 0, 0, tzinfo=timezone(timedelta(hours=3)))  # 20th, UTC
    runs = [
        make_run(1, at=day1, shot_count=4, shots_done=4, gpu_seconds=2.5),
        make_run(2, at=late, shot_count=2, shots_done=1, shots_failed=1, gpu_seconds=0.25),
        make_run(3, at=day2, shot_count=6, shots_done=5, shots_failed=1, gpu_seconds=3.0),
    ]
    for run in runs:
        await store.create_run(run)
    await store.update_run(runs[2].run_id, {"gpu_seconds": 3.125, "shots_done": 6,
                                            "shots_failed": 0})

    assert await store.usage_totals() == [
        DayUsage(day="2026-11-20", runs=2, shots=6, shots_done=5, shots_failed=1,
                 gpu_seconds=2.75),
        DayUsage(day="2026-11-21", runs=1, shots=6, shots_done=6, shots_failed=0,
                 gpu_seconds=3.125),
    ]
    assert await store.usage_totals(since=date(2026, 11, 21)) == [
        DayUsage(day="2026-11-21", runs=1, shots=6, shots_done=6, shots_failed=0,
                 gpu_seconds=3.125)]
    assert await store.usage_totals(since=date(2026, 11, 22)) == []


async def test_times_come_back_aware_utc_and_the_same_instant(store):
    now = datetime.now(UTC)
    run = make_run(1, at=now)
    await store.create_run(run)
    finished = now + timedelta(seconds=90, microseconds=321)
    await store.update_run(run.run_id, {"finished_at": finished.isoformat(),
                                        "updated_at": finished.isoformat()})
    shot = make_shot(run, 1, 1, updated_at=now)
    await store.upsert_shot(shot)

    got = await store.get_run(run.run_id)
    listed = (await store.list_runs())[0]

    for value, expected in [(got.created_at, now), (got.finished_at, finished),
                            (got.updated_at, finished), (got.shots[0].updated_at, now),
                            (listed.created_at, now)]:
        assert same_instant(value, expected)
        assert value.utcoffset() == timedelta(0)


async def test_a_time_in_another_zone_is_kept_as_the_same_instant(store):
    paris = datetime(2026, 11, 20, 11, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    run = make_run(1, at=paris)
    later = make_run(2, at=datetime(2026, 11, 20, 10, 30, tzinfo=UTC))
    await store.create_run(run)
    await store.create_run(later)

    got = await store.get_run(run.run_id)

    assert same_instant(got.created_at, paris)  # 10:00 UTC
    # ...and it sorts as that instant, not as the text "11:00".
    assert [r.run_id for r in await store.list_runs()] == [later.run_id, run.run_id]


async def test_paging_by_cursor_sees_every_run_created_in_the_same_millisecond(store):
    # Seven runs in one millisecond (a batch, a fast script), between two others.
    same = [make_run(n, at=T0 + timedelta(microseconds=n * 100)) for n in range(7)]
    runs = [make_run(90, at=T0 + timedelta(minutes=1)), *same,
            make_run(91, at=T0 - timedelta(minutes=1))]
    for run in runs:
        await store.create_run(run)

    seen, cursor = [], None
    while True:
        page = await store.list_runs(limit=2, before=cursor)
        if not page:
            break
        seen.extend(r.run_id for r in page)
        cursor = PageCursor.after(page[-1])

    newest_first = sorted(same, key=lambda r: r.run_id, reverse=True)
    assert seen == [runs[0].run_id, *(r.run_id for r in newest_first), runs[-1].run_id]
    # a time alone still pages strictly before it (the old way, kept for callers of it)
    assert [r.run_id for r in await store.list_runs(before=same[0].created_at)] == [
        runs[-1].run_id]


def owner(token: str = "tok-a", *, beat: int = 1_000, pid: int = 4242,
          machine: str = "host-a/abc") -> RunOwner:
    return RunOwner(machine=machine, host=machine.split("/")[0], pid=pid, token=token,
                    heartbeat_ms=beat, expires_ms=beat + 15_000)


async def test_a_run_records_its_owner_and_reads_it_back(store):
    run = make_run(1, owner=owner())
    await store.create_run(run)
    free = make_run(2)
    await store.create_run(free)

    assert await store.run_owner(run.run_id) == owner()
    assert (await store.get_run(run.run_id)).owner == owner()
    assert await store.run_owner(free.run_id) is None
    with pytest.raises(RunNotFound):
        await store.run_owner("20260101-000000-000000")


async def test_taking_a_run_is_conditional_on_the_owner_it_saw(store):
    run = make_run(1)
    await store.create_run(run)
    a, b = owner("tok-a", beat=1_000), owner("tok-b", beat=2_000, machine="host-b/def")

    assert await store.claim_run(run.run_id, a, previous=None) is True  # nobody had it
    assert await store.claim_run(run.run_id, b, previous=None) is False  # a has it now
    # b saw an older heartbeat of a's: a beat since, so a is not taken over
    assert await store.claim_run(run.run_id, b, previous=owner("tok-a", beat=500)) is False
    assert await store.run_owner(run.run_id) == a
    # a heartbeat is written only while its token holds the run
    later = owner("tok-a", beat=6_000)
    assert await store.renew_run_owner(run.run_id, later) is True
    assert await store.renew_run_owner(run.run_id, owner("tok-b", beat=7_000)) is False
    assert await store.run_owner(run.run_id) == later
    # b, having seen a's last heartbeat go stale, takes it over; a's heartbeat then fails
    assert await store.claim_run(run.run_id, b, previous=later) is True
    assert await store.renew_run_owner(run.run_id, owner("tok-a", beat=9_000)) is False
    assert await store.release_run(run.run_id, "tok-a") is False
    assert await store.run_owner(run.run_id) == b
    assert await store.release_run(run.run_id, "tok-b") is True
    assert await store.run_owner(run.run_id) is None
    assert await store.claim_run("20260101-000000-000000", a, previous=None) is False


async def test_the_owner_survives_updates_and_leaves_the_other_fields_alone(store):
    run = make_run(1, title="Before")
    await store.create_run(run)
    await store.update_run(run.run_id, {"shots_done": 2})
    assert await store.claim_run(run.run_id, owner(), previous=None)

    await store.update_run(run.run_id, {"title": "After", "status": "completed"})
    await store.renew_run_owner(run.run_id, owner(beat=5_000))
    got = await store.get_run(run.run_id)

    assert got.owner == owner(beat=5_000)
    assert (got.title, got.status, got.shots_done) == ("After", RunStatus.COMPLETED, 2)
    assert same_instant(got.created_at, run.created_at)
    assert [r.run_id for r in await store.find_unfinished()] == []


async def test_a_run_written_before_owners_existed_can_be_taken(mongo):
    # no ``owner`` field at all, and an ``_id`` that is not the run id
    legacy = run_document(make_run(1))
    legacy.pop("owner")
    legacy["_id"] = "legacy-object-id"
    await mongo.store.database["runs"].insert_one(legacy)

    assert await mongo.store.run_owner(legacy["run_id"]) is None
    assert await mongo.store.claim_run(legacy["run_id"], owner(), previous=None) is True
    assert await mongo.store.renew_run_owner(legacy["run_id"], owner(beat=3_000)) is True
    assert await mongo.store.run_owner(legacy["run_id"]) == owner(beat=3_000)
    assert await mongo.store.release_run(legacy["run_id"], "tok-a") is True
    assert await mongo.store.run_owner(legacy["run_id"]) is None
