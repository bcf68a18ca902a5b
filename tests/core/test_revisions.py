"""Editing a finished storyboard: stale shots, regenerating only those, picking versions."""

from __future__ import annotations

import asyncio
import random

import pytest

from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import (
    Character,
    RunOptions,
    Scene,
    ScenePlan,
    Script,
    ShotPlan,
    ShotStatus,
    ShotType,
)
from app.core.pipeline import Pipeline, RetryPolicy
from app.core.revisions import EditError
from tests.core.doubles import ScriptedRenderer

IDEA = from_text("A keeper and her grandson save a boat in a storm.")
MARA_LOOK = "A woman of seventy, wiry, weathered face, white braid, yellow oilskin coat."
THEO_LOOK = "A boy of sixteen, tall and thin, black curls, grey hoodie, red scarf."

# (scene, shot) -> who is in it
CASTING = {(1, 1): ["MARA"], (1, 2): ["THEO"], (1, 3): ["MARA", "THEO"], (1, 4): [],
           (2, 1): ["THEO"], (2, 2): ["MARA"]}


class CastWriter:
    name = "cast"

    async def write_script(self, idea, *, seed, style):
        return Script(title="Storm", logline="A logline.", screenplay="EXT. ROCK - NIGHT\n",
                      characters=[Character(name="Mara", description=MARA_LOOK),
                                  Character(name="Theo", description=THEO_LOOK)])

    async def plan_scenes(self, idea, script, *, seed):
        scenes = sorted({s for s, _ in CASTING})
        return [ScenePlan(
            scene=Scene(index=s, heading=f"EXT. ROCK {s} - NIGHT", summary=f"Storm {s} rages."),
            shots=[ShotPlan(shot_type=ShotType.WIDE, description=f"shot {s}.{i}",
                            characters=CASTING[(s, i)])
                   for (s2, i) in sorted(CASTING) if s2 == s])
            for s in scenes]

    async def aclose(self):
        return None


def pipeline_for(history, renderer=None):
    return Pipeline(CastWriter(), renderer or ScriptedRenderer(), history, concurrency=3,
                    retry=RetryPolicy(max_attempts=1), rng=random.Random(3))


@pytest.fixture
async def finished():
    history = MemoryHistory()
    run = await pipeline_for(history).start(IDEA, RunOptions(seed=11))
    assert all(s.status is ShotStatus.DONE for s in run.shots)
    return history, run


async def test_changing_a_look_makes_stale_only_the_shots_that_character_is_in(finished):
    history, run = finished
    _, stale = await pipeline_for(history).edit_character(run.run_id, "theo",
                                                          "A boy of sixteen in a blue parka.")

    assert stale == ["s01-02", "s01-03", "s02-01"]
    saved = await history.get_run(run.run_id)
    assert [s.shot_id for s in saved.shots if s.stale] == stale
    assert saved.script.characters[1].description == "A boy of sixteen in a blue parka."
    for shot in saved.shots:
        before = run.shot(shot.shot_id)
        assert shot.image == before.image and shot.prompt == before.prompt  # nothing redrawn
        if shot.stale:
            assert shot.stale == "Theo's look changed"
            assert "blue parka" in shot.next_prompt and "grey hoodie" not in shot.next_prompt
        else:
            assert shot.next_prompt is None


async def test_regenerating_stale_shots_renders_only_those_with_their_seeds_kept(finished):
    history, run = finished
    await pipeline_for(history).edit_character(run.run_id, "Theo", "A boy in a blue parka.")
    renderer = ScriptedRenderer()

    after = await pipeline_for(history, renderer).regenerate_stale(run.run_id)

    assert sorted(sid for sid, _ in renderer.calls) == ["s01-02", "s01-03", "s02-01"]
    for shot in after.shots:
        before = run.shot(shot.shot_id)
        assert shot.seed == before.seed  # same framing, new look: reproducible
        assert shot.stale is None and shot.next_prompt is None
        if shot.shot_id in ("s01-02", "s01-03", "s02-01"):
            assert "blue parka" in shot.prompt
            [old] = shot.versions
            assert (old.image, old.prompt) == (before.image, before.prompt)
        else:
            assert shot.versions == [] and shot.image == before.image
    assert "parka" in (await history.list_runs(search="parka"))[0].prompt_words
    again = ScriptedRenderer()
    await pipeline_for(history, again).regenerate_stale(run.run_id)
    assert again.calls == []  # nothing stale any more


async def test_editing_a_scene_makes_stale_only_that_scenes_shots(finished):
    history, run = finished
    _, stale = await pipeline_for(history).edit_scene(run.run_id, 2, summary="Dawn breaks.")
    assert stale == ["s02-01", "s02-02"]
    saved = await history.get_run(run.run_id)
    assert saved.scenes[1].summary == "Dawn breaks."
    assert "Scene: Dawn breaks." in saved.shot("s02-01").next_prompt

    _, stale = await pipeline_for(history).edit_scene(run.run_id, 1,
                                                      heading="INT. LAMP ROOM - NIGHT")
    assert stale == ["s01-01", "s01-02", "s01-03", "s01-04"]
    assert "interior, lamp room, night" in (await history.get_run(run.run_id)).shot(
        "s01-04").next_prompt


async def test_an_edit_that_changes_nothing_makes_nothing_stale(finished):
    history, run = finished
    _, stale = await pipeline_for(history).edit_character(run.run_id, "Mara", f"  {MARA_LOOK} ")
    assert stale == []


async def test_a_hand_edited_prompt_keeps_its_words_and_gets_the_new_look(finished):
    history, run = finished
    mine = f"my own framing, low angle. Theo: {THEO_LOOK.rstrip('.')}. lightning"
    await pipeline_for(history).regenerate(run.run_id, "s01-02", prompt=mine)

    await pipeline_for(history).edit_character(run.run_id, "Theo", "A boy in a blue parka.")

    shot = (await history.get_run(run.run_id)).shot("s01-02")
    assert shot.next_prompt == "my own framing, low angle. Theo: A boy in a blue parka. lightning"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda p, rid: p.edit_character(rid, "Nobody", "a look"), "no character named 'Nobody'"),
    (lambda p, rid: p.edit_character(rid, "Mara", "   "), "a look can't be empty"),
    (lambda p, rid: p.edit_character(rid, "Mara", "word " * 500), "at most 120 words"),
    (lambda p, rid: p.edit_scene(rid, 9, summary="x"), "no scene 9"),
    (lambda p, rid: p.edit_scene(rid, 1), "nothing to change"),
    (lambda p, rid: p.edit_scene(rid, 1, heading=" "), "heading can't be empty"),
])
async def test_a_bad_edit_says_why_and_changes_nothing(finished, edit, message):
    history, run = finished
    before = await history.get_run(run.run_id)
    with pytest.raises(EditError, match=message):
        await edit(pipeline_for(history), run.run_id)
    assert await history.get_run(run.run_id) == before


async def test_picking_an_earlier_version_makes_it_current_and_keeps_the_other(finished):
    history, run = finished
    first = run.shot("s01-01")
    pipeline = pipeline_for(history)
    await pipeline.regenerate(run.run_id, "s01-01", prompt="second try")
    second = (await history.get_run(run.run_id)).shot("s01-01")

    picked = (await pipeline.pick_version(run.run_id, "s01-01", 1)).shot("s01-01")

    assert (picked.image, picked.prompt, picked.seed) == (first.image, first.prompt, first.seed)
    assert [(v.attempt, v.prompt) for v in picked.versions] == [(2, "second try")]
    assert picked.versions[0].image == second.image
    assert (await history.get_run(run.run_id)).shot("s01-01") == picked

    # picking back, then rendering again: the versions stay whole, no key is reused
    await pipeline.pick_version(run.run_id, "s01-01", 2)
    renderer = ScriptedRenderer()
    third = (await pipeline_for(history, renderer).regenerate(run.run_id, "s01-01")).shot(
        "s01-01")
    assert renderer.calls == [("s01-01", 3)]
    assert sorted(v.attempt for v in third.versions) == [1, 2]
    assert len({v.image.key for v in third.versions} | {third.image.key}) == 3

    with pytest.raises(EditError, match="no earlier version 7"):
        await pipeline.pick_version(run.run_id, "s01-01", 7)


async def test_nothing_changes_a_run_while_it_is_rendering(finished):
    history, run = finished
    gate = asyncio.Event()
    renderer = ScriptedRenderer(gates={"s01-01": gate})
    pipeline = pipeline_for(history, renderer)
    task = asyncio.create_task(pipeline.regenerate(run.run_id, "s01-01"))
    await renderer.started.wait()

    for change in (lambda: pipeline.edit_character(run.run_id, "Mara", "A new look."),
                   lambda: pipeline.pick_version(run.run_id, "s01-01", 1),
                   lambda: pipeline.regenerate_stale(run.run_id),
                   lambda: pipeline.regenerate(run.run_id, "s01-02")):
        with pytest.raises(EditError, match="still working"):
            await change()
    gate.set()
    assert (await task).shot("s01-01").status is ShotStatus.DONE
