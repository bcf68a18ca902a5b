"""Which scenes of a script are storyboarded: ``--scenes 1-12,40``, and what a cap cuts.

Every scene of a script stays in the run (``Run.scenes``). A run storyboards the
scenes chosen (all of them by default); the shot plans of the others are kept in
the run (``Run.held_plans``) so that ``storyreel resume RUN_ID --scenes 13-20``
draws them later into the same run without planning again. Before a run starts,
``script_size`` says how many scenes and shots the script holds (offline, free)
and ``cap_notice`` says in one line what a shot cap or a GPU budget would leave
out. Pure functions; no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from app.core.errors import IdeaError
from app.core.ideas import Idea
from app.core.models import ScenePlan

_PART = re.compile(r"^(\d+)(?:\s*[-–]\s*(\d+))?$")


class SceneSpecError(IdeaError):
    """A ``--scenes`` value that cannot be read, or names a scene the script lacks."""


def parse_spec(spec: str) -> list[int]:
    """``"1-12,40"`` as the scene numbers it names, sorted, each once (1-based)."""
    numbers: set[int] = set()
    parts = [p.strip() for p in spec.split(",")]
    if not spec.strip() or not all(parts):
        raise SceneSpecError(f"--scenes {spec!r}: expected scene numbers and ranges separated "
                             "by commas, such as 1-12,40")
    for part in parts:
        m = _PART.match(part)
        if m is None:
            raise SceneSpecError(f"--scenes: {part!r} is not a scene number or a range "
                                 "(such as 3 or 1-12)")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if first < 1:
            raise SceneSpecError(f"--scenes: scenes are numbered from 1, got {part!r}")
        if last < first:
            raise SceneSpecError(f"--scenes: the range {part!r} runs backwards; "
                                 f"write {last}-{first}")
        numbers.update(range(first, last + 1))
    return sorted(numbers)


def check_numbers(numbers: list[int], total: int) -> None:
    """Raise ``SceneSpecError`` when a number is beyond a script of ``total`` scenes."""
    beyond = [n for n in numbers if n > total]
    if beyond:
        raise SceneSpecError(f"--scenes: this script has {_scenes(total)}; there is no "
                             f"scene {beyond[0]}")


def describe(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``"1–3, 7"``."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def choose(plans: list[ScenePlan], numbers: list[int] | None
           ) -> tuple[list[ScenePlan], list[ScenePlan]]:
    """The plans of the chosen scenes (all when ``numbers`` is None), and the others."""
    if numbers is None:
        return list(plans), []
    wanted = set(numbers)
    return ([p for p in plans if p.scene.index in wanted],
            [p for p in plans if p.scene.index not in wanted])


def held_back(all_plans: list[ScenePlan], drawn: list[ScenePlan]) -> list[ScenePlan]:
    """The plans of scenes left with no shot (not chosen, or cut by the cap): kept in the
    run to be storyboarded later."""
    boarded = {p.scene.index for p in drawn if p.shots}
    return [p for p in all_plans if p.scene.index not in boarded]


@dataclass(frozen=True)
class ScriptSize:
    """A script's scenes and (about) how many shots it needs, known before it is paid for."""

    scenes: int
    shots: int
    plans: tuple[ScenePlan, ...]


def script_size(idea: Idea) -> ScriptSize:
    """How many scenes the idea's script has and about how many shots they need, from the
    offline outline and coverage (the draft writer's): free, and the same scenes a Fountain
    script's headings give. A cloud writer may plan a few more or fewer shots."""
    from app.core.writers.draft import plan_coverage  # the writers' parsing, loaded on use
    from app.core.writers.outline import outline

    plans = plan_coverage(outline(idea), 0)
    return ScriptSize(scenes=len(plans), shots=sum(len(p.shots) for p in plans),
                      plans=tuple(plans))


def drawn_shots(size: ScriptSize, numbers: list[int] | None, max_shots: int | None) -> int:
    """About how many shots a run of this script storyboards (the chosen scenes, capped)."""
    from app.core.pipeline import limit_shots

    return sum(len(p.shots) for p in limit_shots(choose(list(size.plans), numbers)[0],
                                                  max_shots))


def cap_notice(size: ScriptSize, *, numbers: list[int] | None = None,
               max_shots: int | None = None, budget_gpu_s: float | None = None,
               shot_gpu_s: float = 0.0) -> str | None:
    """One line saying what a shot cap or a GPU budget leaves out of the script, before
    the run starts; None when the script (or the scenes chosen) fit."""
    from app.core.pipeline import limit_shots  # the cap exactly as the pipeline applies it

    chosen, _ = choose(list(size.plans), numbers)
    wanted = sum(len(p.shots) for p in chosen)
    kept = limit_shots(chosen, max_shots)
    cap = f"the cap of {max_shots} shots"
    drawn_shots = sum(len(p.shots) for p in kept)
    if budget_gpu_s is not None and shot_gpu_s > 0:
        affordable = math.floor(budget_gpu_s / shot_gpu_s)
        if affordable < drawn_shots:  # shots render in story order until the budget is spent
            order = sorted((p.scene.index, i) for p in kept for i in range(len(p.shots)))
            boarded = sorted({scene for scene, _ in order[:affordable]})
            kept = [p for p in kept if p.scene.index in boarded]
            drawn_shots = affordable
            cap = (f"the budget of {budget_gpu_s:g} GPU seconds (about {affordable} shots "
                   f"at {shot_gpu_s:g} s)")
    if drawn_shots >= wanted:
        return None
    what = (f"this script has {_scenes(size.scenes)}, about {wanted} shots"
            if numbers is None else
            f"this script has {_scenes(size.scenes)}; scenes {describe(numbers)} need about "
            f"{wanted} shots")
    boarded_numbers = [p.scene.index for p in kept]
    drawn = (f"storyboards scenes {describe(boarded_numbers)}" if boarded_numbers
             else "storyboards no scene")
    if boarded_numbers and len(boarded_numbers) == len(chosen):  # every scene, fewer shots
        drawn += f" with {drawn_shots} of their {wanted} shots"
    return f"{what}; {cap} {drawn}; use --scenes to choose"


def _scenes(n: int) -> str:
    return "1 scene" if n == 1 else f"{n} scenes"
