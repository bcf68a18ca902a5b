"""Image prompts for shots, built by one pure function.

A shot prompt carries the shot (size, camera, what happens), the cast members
present with their fixed looks, and the style line, so that every shot of a
run draws the same people in the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.core.models import Character, Scene, ShotPlan

NEGATIVE_PROMPT = "text, watermark, logo, caption, signature, extra limbs, deformed hands"


def build_shot_prompt(
    shot: ShotPlan, scene: Scene, cast: Iterable[Character], style: str
) -> str:
    """``style`` is the style line of the run (``app.core.styles.resolve_style``), the one
    place the default look is defined."""
    looks = {c.name.casefold(): c for c in cast}
    present = [looks[n.casefold()] for n in shot.characters if n.casefold() in looks]
    parts = [
        f"{shot.shot_type.label} shot, camera {shot.camera}",
        f"{_location(scene.heading)}",
        shot.description.rstrip("."),
    ]
    parts += [f"{c.name}: {c.description}" for c in present if c.description]
    parts.append(style)
    return ". ".join(p for p in parts if p) + "."


def _location(heading: str) -> str:
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
