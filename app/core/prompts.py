"""Image prompts for shots, built by one pure function.

A shot prompt carries the shot (size, camera, what happens), the cast members
present with their fixed looks, and the style line, so that every shot of a
run draws the same people in the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.core.models import Character, Scene, ShotPlan

NEGATIVE_PROMPT = "text, watermark, logo, caption, signature, extra limbs, deformed hands"
SCENE_WORDS = 60  # of the scene's summary, at most: the shot's own description comes first


def build_shot_prompt(
    shot: ShotPlan, scene: Scene, cast: Iterable[Character], style: str
) -> str:
    """``style`` is the style line of the run (``app.core.styles.resolve_style``), the one
    place the default look is defined.

    The prompt depends on the shot, on its scene (heading and summary), on the looks of
    the cast members in the shot and on the style, and on nothing else: editing a scene
    or a look changes exactly the prompts of the shots that depend on it."""
    looks = {c.name.casefold(): c for c in cast}
    present = [looks[n.casefold()] for n in shot.characters if n.casefold() in looks]
    parts = [
        f"{shot.shot_type.label} shot, camera {shot.camera}",
        location(scene.heading),
        _sentence(shot.description),
        *(look_line(c) for c in present),
        scene_line(scene),
        _sentence(style),
    ]
    return ". ".join(p for p in parts if p) + "."


def look_line(character: Character) -> str:
    """A cast member's part of a prompt; empty without a look."""
    look = _sentence(character.description)
    return f"{character.name}: {look}" if look else ""


def scene_line(scene: Scene) -> str:
    """A scene's summary as part of a prompt (its first ``SCENE_WORDS`` words)."""
    summary = _sentence(" ".join(scene.summary.split()[:SCENE_WORDS]))
    return f"Scene: {summary}" if summary else ""


def _sentence(text: str) -> str:
    """Text to join with ". ": single-spaced, without its own closing stop or colon."""
    return " ".join(text.split()).rstrip(".:;, ")


def location(heading: str) -> str:
    """``EXT. LIGHTHOUSE - NIGHT`` -> ``exterior, lighthouse, night``."""
    text = heading.strip()
    prefix = ""
    for mark, word in (("INT./EXT", "interior and exterior"), ("INT/EXT", "interior and exterior"),
                       ("I/E", "interior and exterior"), ("INT", "interior"), ("EXT", "exterior"),
                       ("EST", "establishing")):
        if text.upper().startswith(mark):
            prefix, text = word, text[len(mark):].lstrip(". ")
            break
    place, _, time = text.partition(" - ")
    bits = [prefix, place.strip().lower(), time.strip().lower()]
    return ", ".join(b for b in bits if b)
