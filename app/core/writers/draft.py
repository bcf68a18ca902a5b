"""The draft writer: offline, deterministic, no model. The embedded default.

It reads the idea into an outline (``outline.py``), writes a Fountain
screenplay from it, and plans standard coverage for every scene: an
establishing shot, the beats of the scene as medium shots, close-ups and
inserts, the dialogue over the shoulder, and a closing shot. Same idea and
same seed give the same plan; the seed varies only the camera choices.
"""

from __future__ import annotations

import asyncio
import random
import re

from app.core.ideas import Idea
from app.core.models import Character, Scene, ScenePlan, Script, ShotPlan, ShotType
from app.core.writers.looks import draft_look
from app.core.writers.outline import Outline, SceneOutline, outline

MAX_SHOTS_PER_SCENE = 6
OBJECTS = frozenset("""letter bottle map photo photograph key phone note book ring lamp lantern
    knife gun glass cup clock watch door window box envelope compass candle radio screen
    sign painting mirror coin ticket badge camera notebook journal flashlight rope""".split())


class DraftWriter:
    name = "draft (offline)"

    async def write_script(self, idea: Idea, *, seed: int, style: str | None) -> Script:
        # In a thread, looks included: a feature's cast is read off the event loop.
        return await asyncio.to_thread(_write_script, idea)

    async def plan_scenes(self, idea: Idea, script: Script, *, seed: int) -> list[ScenePlan]:
        story = await asyncio.to_thread(outline, idea)
        return plan_coverage(story, seed)

    async def aclose(self) -> None:
        return None


def _write_script(idea: Idea) -> Script:
    story = outline(idea)
    text = story.text or idea.text
    return Script(
        title=story.title,
        logline=story.logline,
        screenplay=story.screenplay or to_fountain(story),
        characters=[Character(name=n, description=draft_look(n, text, story.title))
                    for n in story.cast],
    )


def to_fountain(story: Outline) -> str:
    out = [f"Title: {story.title}", "Credit: Written by", "Author: Storyreel draft writer",
           f"Logline: {story.logline}", ""]
    for n, scene in enumerate(story.scenes, 1):
        out += ["", f"{scene.heading} #{n}#", ""]
        out.append(" ".join(scene.beats))
        for who, line in scene.dialogue:
            out += ["", who, line]
        if n < len(story.scenes):
            out += ["", "CUT TO:"]
    out += ["", ">THE END<", ""]
    return "\n".join(out)


def plan_coverage(story: Outline, seed: int) -> list[ScenePlan]:
    return [
        ScenePlan(
            scene=Scene(index=n, heading=scene.heading, summary=" ".join(scene.beats)[:600],
                        characters=scene.characters),
            shots=_coverage(scene, random.Random(f"{seed}:{n}")),
        )
        for n, scene in enumerate(story.scenes, 1)
    ]


def _coverage(scene: SceneOutline, rng: random.Random) -> list[ShotPlan]:
    beats = scene.beats or [scene.heading]
    lead = scene.characters[0] if scene.characters else None
    shots = [ShotPlan(
        shot_type=rng.choice([ShotType.EXTREME_WIDE, ShotType.WIDE]),
        camera=rng.choice(["static", "slow pan right", "slow pan left", "crane down"]),
        description=f"Establishing. {beats[0]}",
        characters=_who(beats[0], scene.characters),
    )]
    inserted = False
    for n, beat in enumerate(beats[1:4] if len(beats) > 1 else beats, 1):
        who = _who(beat, scene.characters)
        if n > 1 and not inserted and _object_in(beat):
            inserted = True
            kind, camera, text = ShotType.INSERT, "static", f"Insert. {beat}"
        elif who and n % 2 == 0:
            kind, camera, text = (ShotType.CLOSE_UP, rng.choice(["static", "push in"]),
                                  f"Close on {who[0].title()}. {beat}")
        elif len(who) >= 2:
            kind, camera, text = ShotType.TWO_SHOT, "static", beat
        else:
            kind, camera, text = (ShotType.MEDIUM, rng.choice(["static", "dolly in", "handheld"]),
                                  beat)
        shots.append(ShotPlan(shot_type=kind, camera=camera, description=text, characters=who))
    for who, line in scene.dialogue[:1]:
        others = [c for c in scene.characters if c != who]
        kind = ShotType.OVER_THE_SHOULDER if others else ShotType.MEDIUM_CLOSE_UP
        where = f" over {others[0].title()}'s shoulder" if others else ""
        shots.append(ShotPlan(shot_type=kind, camera="static",
                              description=f"{who.title()} speaks{where}.",
                              characters=[who, *others[:1]], dialogue=line))
    if len(shots) < 3 or rng.random() < 0.5:
        if lead:
            shots.append(ShotPlan(shot_type=ShotType.MEDIUM_CLOSE_UP,
                                  camera=rng.choice(["static", "push in"]),
                                  description=f"{lead.title()} reacts. {beats[-1]}",
                                  characters=[lead]))
        else:
            shots.append(ShotPlan(shot_type=ShotType.WIDE, camera="slow pan left",
                                  description=f"Closing on the scene. {beats[-1]}"))
    while len(shots) < 3:  # a one-beat scene still gets coverage
        shots.append(ShotPlan(shot_type=ShotType.CLOSE_UP, camera="static",
                              description=f"Detail. {beats[-1]}", characters=[]))
    return shots[:MAX_SHOTS_PER_SCENE]


def _who(text: str, names: list[str]) -> list[str]:
    return [n for n in names if re.search(rf"\b{re.escape(n)}\b", text, re.IGNORECASE)]


def _object_in(text: str) -> bool:
    return any(w in OBJECTS for w in re.findall(r"[a-z]+", text.lower()))
