"""A deterministic writer for pipeline tests: a fixed script and ``scenes x shots`` shots."""

from __future__ import annotations

from app.core.ideas import Idea
from app.core.models import Character, Scene, ScenePlan, Script, ShotPlan, ShotType


class StaticWriter:
    name = "static (test)"

    def __init__(self, scenes: int = 2, shots_per_scene: int = 2) -> None:
        self.scenes = scenes
        self.shots_per_scene = shots_per_scene

    async def write_script(self, idea: Idea, *, seed: int, style: str | None) -> Script:
        return Script(title="A Test Story", logline="Someone wants something.",
                      screenplay="EXT. SOMEWHERE - DAY\n\nSomething happens.\n",
                      characters=[Character(name="Ada", description="a woman in a red coat")])

    async def plan_scenes(self, idea: Idea, script: Script, *, seed: int) -> list[ScenePlan]:
        types = list(ShotType)
        return [
            ScenePlan(
                scene=Scene(index=s, heading=f"EXT. PLACE {s} - DAY", summary=f"Scene {s}."),
                shots=[ShotPlan(shot_type=types[(s + i) % len(types)], camera="static",
                                description=f"Ada in scene {s}, shot {i}.", characters=["Ada"])
                       for i in range(1, self.shots_per_scene + 1)],
            )
            for s in range(1, self.scenes + 1)
        ]

    async def aclose(self) -> None:
        return None
