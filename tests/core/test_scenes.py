"""Choosing scenes to storyboard (``--scenes``), storyboarding more later into the same
run, and saying before a run what a shot cap or a budget leaves out."""

import random

import pytest

from app.core import scenes
from app.core.estimate import estimate_from
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus, Scene, ScenePlan, ShotPlan, ShotType
from app.core.pipeline import Pipeline
from app.core.scenes import SceneSpecError
from tests.core.doubles import PlannedWriter, ScriptedRenderer

IDEA = from_text("A lighthouse keeper keeps the light burning through a storm.")


def many_scenes(n: int) -> str:
    out = ["Title: Many Nights", ""]
    for i in range(1, n + 1):
        out += [f"INT. ROOM {i} - NIGHT", "", f"MARA opens door {i} and finds a lamp.", "",
                "MARA", "Someone was here.", ""]
    return "\n".join(out)


def plans(n: int, shots: int = 2) -> list[ScenePlan]:
    return [ScenePlan(scene=Scene(index=s, heading=f"INT. ROOM {s}"),
                      shots=[ShotPlan(shot_type=ShotType.WIDE, description=f"{s}.{i}")
                             for i in range(shots)])
            for s in range(1, n + 1)]


@pytest.mark.parametrize(("spec", "numbers"), [
    ("1-12,40", [*range(1, 13), 40]),
    ("3", [3]),
    (" 5 , 2-3 ", [2, 3, 5]),
    ("2-2,1-3", [1, 2, 3]),
    ("7–9", [7, 8, 9]),  # an en dash, as a person may type or paste it
])
def test_a_spec_names_its_scenes_sorted_each_once(spec, numbers):
    assert scenes.parse_spec(spec) == numbers


@pytest.mark.parametrize(("spec", "says"), [
    ("", "scene numbers and ranges"),
    ("1,,3", "scene numbers and ranges"),
    ("x", "'x' is not a scene number"),
    ("1-", "'1-' is not a scene number"),
    ("0-3", "numbered from 1"),
    ("9-4", "runs backwards; write 4-9"),
    ("-2", "not a scene number"),
])
def test_a_bad_spec_is_refused_with_what_was_wrong(spec, says):
    with pytest.raises(SceneSpecError, match=says):
        scenes.parse_spec(spec)


def test_a_scene_beyond_the_script_is_refused_naming_how_many_it_has():
    scenes.check_numbers([1, 12], 12)
    with pytest.raises(SceneSpecError, match="this script has 12 scenes; there is no scene 40"):
        scenes.check_numbers([1, 40, 41], 12)
    with pytest.raises(SceneSpecError, match="has 1 scene;"):
        scenes.check_numbers([2], 1)


def test_describe_writes_runs_of_numbers_as_ranges():
    assert scenes.describe([1, 2, 3, 7, 9, 10]) == "1–3, 7, 9–10"


def test_choose_keeps_the_chosen_scenes_and_holds_the_others():
    chosen, others = scenes.choose(plans(5), [2, 4])
    assert [p.scene.index for p in chosen] == [2, 4]
    assert [p.scene.index for p in others] == [1, 3, 5]
    assert scenes.choose(plans(3), None) == (plans(3), [])


def test_scenes_cut_to_no_shot_are_held_for_later():
    everything = plans(4)
    drawn = [everything[0], ScenePlan(scene=everything[2].scene, shots=[])]
    assert [p.scene.index for p in scenes.held_back(everything, drawn)] == [2, 3, 4]


def test_a_screenplay_is_sized_offline_with_every_scene():
    size = scenes.script_size(from_text(many_scenes(40)))
    assert size.scenes == 40
    assert size.shots == sum(len(p.shots) for p in size.plans) >= 40 * 3


def test_the_cap_notice_names_the_scenes_the_cap_storyboards():
    size = scenes.ScriptSize(scenes=190, shots=760, plans=tuple(plans(190, 4)))
    notice = scenes.cap_notice(size, max_shots=40)
    assert notice == ("this script has 190 scenes, about 760 shots; the cap of 40 shots "
                      "storyboards scenes 1–40; use --scenes to choose")
    assert scenes.cap_notice(size, max_shots=760) is None
    assert scenes.cap_notice(size) is None  # no cap: everything is drawn
    # scenes chosen that fit the cap: nothing to say
    assert scenes.cap_notice(size, numbers=[1, 2, 3], max_shots=40) is None
    fewer = scenes.cap_notice(size, numbers=[1, 2, 3], max_shots=6)
    assert fewer == ("this script has 190 scenes; scenes 1–3 need about 12 shots; the cap of 6 "
                     "shots storyboards scenes 1–3 with 6 of their 12 shots; use --scenes to "
                     "choose")
    chosen = scenes.cap_notice(size, numbers=list(range(1, 21)), max_shots=10)
    assert chosen == ("this script has 190 scenes; scenes 1–20 need about 80 shots; the cap "
                      "of 10 shots storyboards scenes 1–10; use --scenes to choose")


def test_the_budget_notice_counts_the_shots_it_pays_for_in_story_order():
    size = scenes.ScriptSize(scenes=10, shots=40, plans=tuple(plans(10, 4)))
    notice = scenes.cap_notice(size, budget_gpu_s=36, shot_gpu_s=4.0)
    assert notice == ("this script has 10 scenes, about 40 shots; the budget of 36 GPU "
                      "seconds (about 9 shots at 4 s) storyboards scenes 1–3; use --scenes "
                      "to choose")
    assert scenes.cap_notice(size, budget_gpu_s=400, shot_gpu_s=4.0) is None
    assert scenes.cap_notice(size, budget_gpu_s=36, shot_gpu_s=0.0) is None  # nothing paid


def test_the_estimate_covers_the_whole_script_and_what_will_be_drawn():
    base = estimate_from([], writer="w", renderer="r", writer_on_gpu=True,
                         renderer_on_gpu=True, max_shots=40, price_per_gpu_s=0.001)
    size = scenes.ScriptSize(scenes=190, shots=760, plans=tuple(plans(190, 4)))
    est = base.with_script(size.scenes, size.shots, scenes.drawn_shots(size, None, 40))
    assert (est.shots, est.shot_jobs) == (40, 40)
    assert est.script_gpu_seconds == pytest.approx(2 * 20.0 + 760 * 4.0)
    line = est.describe()
    assert "40 shots (the scenes to storyboard)" in line
    assert "the whole script (190 scenes, about 760 shots): about 3080 GPU seconds" in line
    assert "$3.08" in line
    d = est.as_dict()
    assert (d["script_scenes"], d["script_shots"], d["script_gpu_seconds"]) == (190, 760, 3080)
    offline = estimate_from([], writer="w", renderer="r", writer_on_gpu=False,
                            renderer_on_gpu=False).with_script(190, 760, 40)
    assert offline.jobs == 0 and offline.script_gpu_seconds == 0


def make(writer=None, renderer=None, history=None):
    return Pipeline(writer or PlannedWriter(scenes=6, shots_per_scene=2),
                    renderer or ScriptedRenderer(), history or MemoryHistory(),
                    concurrency=3, rng=random.Random(1))


async def test_a_run_storyboards_only_the_chosen_scenes_and_keeps_every_scene():
    history = MemoryHistory()
    renderer = ScriptedRenderer()
    run = await make(renderer=renderer, history=history).start(
        IDEA, RunOptions(seed=1, scenes=[2, 5]))
    assert run.status is RunStatus.COMPLETED
    assert [s.index for s in run.scenes] == [1, 2, 3, 4, 5, 6]
    assert sorted({s.scene for s in run.shots}) == [2, 5]
    assert {sid for sid, _ in renderer.calls} == {s.shot_id for s in run.shots}
    assert len(renderer.calls) == 4
    stored = await history.get_run(run.run_id)
    assert [p.scene.index for p in stored.held_plans] == [1, 3, 4, 6]
    assert stored.scenes_chosen == [2, 5]


async def test_storyboarding_more_scenes_later_renders_only_their_shots():
    history = MemoryHistory()
    first = ScriptedRenderer()
    writer = PlannedWriter(scenes=6, shots_per_scene=2)
    run = await make(writer, first, history).start(IDEA, RunOptions(seed=1, scenes=[1, 2]))
    done_before = {s.shot_id: (s.attempts, s.image) for s in run.shots}

    later = ScriptedRenderer()
    again = make(writer, later, history)
    run = await again.storyboard_scenes(run.run_id, [2, 3, 4])
    assert run.status is RunStatus.COMPLETED
    assert sorted({s.scene for s in run.shots}) == [1, 2, 3, 4]
    new_ids = {s.shot_id for s in run.shots if s.scene in (3, 4)}
    assert {sid for sid, _ in later.calls} == new_ids and len(later.calls) == 4
    for shot in run.shots:  # nothing drawn before is drawn again
        if shot.shot_id in done_before:
            assert (shot.attempts, shot.image) == done_before[shot.shot_id]
    assert writer.calls.count("plan_scenes") == 1  # the kept plans, not a new plan
    stored = await history.get_run(run.run_id)
    assert [p.scene.index for p in stored.held_plans] == [5, 6]
    assert (stored.shot_count, stored.shots_done) == (8, 8)
    assert len(stored.shots) == 8


async def test_storyboarding_a_scene_beyond_the_script_changes_nothing():
    history = MemoryHistory()
    run = await make(history=history).start(IDEA, RunOptions(seed=1, scenes=[1]))
    with pytest.raises(SceneSpecError, match="has 6 scenes; there is no scene 9"):
        await make(history=history).storyboard_scenes(run.run_id, [5, 9])
    stored = await history.get_run(run.run_id)
    assert len(stored.shots) == 2 and len(stored.held_plans) == 5


async def test_a_chosen_scene_the_plan_lacks_fails_the_run_saying_so():
    run = await make().start(IDEA, RunOptions(seed=1, scenes=[7]))
    assert run.status is RunStatus.FAILED
    assert "has 6 scenes; there is no scene 7" in run.error


async def test_scenes_the_shot_cap_cuts_are_held_for_later_too():
    history = MemoryHistory()
    run = await make(history=history).start(IDEA, RunOptions(seed=1, max_shots=3))
    assert sorted({s.scene for s in run.shots}) == [1, 2, 3]
    stored = await history.get_run(run.run_id)
    assert [p.scene.index for p in stored.held_plans] == [4, 5, 6]
