"""Changing a finished storyboard: edit a scene or a look, pick a shot's version.

Pure functions on a ``Run`` (with its shots); the pipeline loads, applies,
saves and renders. An edit marks *stale* exactly the shots whose prompt it
changes (a shot's prompt depends only on its own plan, its scene, the looks
of the cast in it, and the style: ``build_shot_prompt``), and gives each its
``next_prompt``. The current image and its prompt stay until "regenerate
stale shots" renders those shots again, with their seeds unchanged: the same
framing, the new look.
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.errors import StoryreelError
from app.core.models import Character, Run, Scene, Shot, ShotPlan, ShotVersion
from app.core.prompts import build_shot_prompt, location, look_line, scene_line
from app.core.styles import resolve_style


class EditError(StoryreelError):
    """An edit that can't be applied: unknown character, scene or version, empty text."""


MAX_LOOK_WORDS = 120
MAX_SUMMARY_WORDS = 120
MAX_HEADING_CHARS = 120


def edit_character(run: Run, name: str, look: str) -> list[Shot]:
    """Give the character ``name`` a new look. Returns the shots it made stale."""
    if run.script is None:
        raise EditError("this run has no script yet, so no cast to edit")
    look = words(look, "a look", MAX_LOOK_WORDS)
    cast = run.script.characters
    found = [c for c in cast if c.name.casefold() == name.strip().casefold()]
    if not found:
        names = ", ".join(c.name for c in cast) or "none"
        raise EditError(f"no character named {name.strip()!r} in this run (its cast: {names})")
    before = found[0]
    after = Character(name=before.name, description=look)
    new_cast = [after if c is before else c for c in cast]
    who = before.name

    def depends(shot: Shot) -> bool:
        return any(n.casefold() == who.casefold() for n in shot.characters)

    swap = (look_line(before), look_line(after))
    stale = _replan(run, depends, f"{who}'s look changed", [swap], cast=new_cast)
    run.script = run.script.model_copy(update={"characters": new_cast})
    return stale


def edit_scene(run: Run, index: int, *, heading: str | None = None,
               summary: str | None = None) -> list[Shot]:
    """Change scene ``index``'s heading and/or summary. Returns the shots it made stale."""
    scene = next((s for s in run.scenes if s.index == index), None)
    if scene is None:
        raise EditError(f"this run has no scene {index} (it has {len(run.scenes)})")
    changes: dict[str, str] = {}
    if heading is not None:
        heading = " ".join(heading.split())
        if not heading:
            raise EditError("a scene heading can't be empty")
        if len(heading) > MAX_HEADING_CHARS:
            raise EditError(f"a scene heading is at most {MAX_HEADING_CHARS} characters")
        changes["heading"] = heading
    if summary is not None:
        changes["summary"] = words(summary, "a scene summary", MAX_SUMMARY_WORDS)
    if not changes:
        raise EditError("nothing to change: give a heading or a summary")
    new_scene = scene.model_copy(update=changes)
    swaps = [(location(scene.heading), location(new_scene.heading)),
             (scene_line(scene), scene_line(new_scene))]
    stale = _replan(run, lambda shot: shot.scene == index, f"scene {index} changed", swaps,
                    scenes={index: new_scene})
    run.scenes = [new_scene if s.index == index else s for s in run.scenes]
    return stale


def stale_shots(run: Run) -> list[Shot]:
    return [s for s in run.shots if s.stale]


def pick_version(shot: Shot, attempt: int) -> None:
    """Make the earlier version made by ``attempt`` the shot's current image; the current
    image becomes an earlier version in its place. Nothing is deleted."""
    chosen = next((v for v in shot.versions if v.attempt == attempt), None)
    if chosen is None:
        kept = ", ".join(str(v.attempt) for v in shot.versions) or "none"
        raise EditError(f"shot {shot.number} has no earlier version {attempt} "
                        f"(its earlier versions: {kept})")
    others = [v for v in shot.versions if v is not chosen]
    if shot.image is not None:
        others.append(current_version(shot))
    shot.versions = sorted(others, key=lambda v: v.attempt)
    shot.image, shot.prompt, shot.seed = chosen.image, chosen.prompt, chosen.seed
    shot.job_id, shot.timings, shot.model = chosen.job_id, chosen.timings, chosen.model
    shot.image_attempt = chosen.attempt if chosen.attempt != shot.attempts else None


def current_version(shot: Shot) -> ShotVersion:
    """The shot's current image as a version, to keep when it is replaced."""
    assert shot.image is not None
    return ShotVersion(attempt=shot.image_attempt or shot.attempts, image=shot.image,
                       prompt=shot.prompt, seed=shot.seed, job_id=shot.job_id,
                       model=shot.model, timings=shot.timings)


def _replan(run: Run, depends: Callable[[Shot], bool], reason: str, swaps: list[tuple[str, str]],
            *, cast: list[Character] | None = None, scenes: dict[int, Scene] | None = None,
            ) -> list[Shot]:
    """Rebuild the prompts of the shots that ``depends`` on the edit; mark stale those whose
    prompt changes. A prompt a person edited by hand keeps their words: only the parts the
    edit changed (``swaps``: old text, new text, as they appear in prompts) are replaced."""
    style = resolve_style(run.style).prompt
    old_cast = run.script.characters if run.script else []
    new_cast = cast if cast is not None else old_cast
    by_index = {s.index: s for s in run.scenes}
    stale = []
    for shot in run.shots:
        if not depends(shot) or shot.scene not in by_index:
            continue
        plan = ShotPlan(shot_type=shot.shot_type, camera=shot.camera,
                        description=shot.description, characters=shot.characters,
                        dialogue=shot.dialogue)
        old_scene = by_index[shot.scene]
        new_scene = (scenes or {}).get(shot.scene, old_scene)
        before = build_shot_prompt(plan, old_scene, old_cast, style)
        after = build_shot_prompt(plan, new_scene, new_cast, style)
        if before == after:
            continue
        planned = shot.next_prompt or shot.prompt
        if planned == before:
            shot.next_prompt = after
        else:  # edited by hand
            for old, new in swaps:
                if old and old in planned:
                    planned = planned.replace(old, new)
            shot.next_prompt = planned
        shot.stale = reason
        stale.append(shot)
    return stale


def words(value: str, what: str, max_words: int) -> str:
    """Text of one to ``max_words`` words, single-spaced (``what`` names it in messages).
    Also a shot's description on the board (``app.core.shot_fields``)."""
    found = str(value).split()
    if not found:
        raise EditError(f"{what} can't be empty")
    if len(found) > max_words:
        raise EditError(f"{what} is at most {max_words} words (this one has {len(found)})")
    return " ".join(found)
