"""What a person may write into a shot's fields (``app.core.board``), checked: each
function returns the value as it is kept, or raises ``EditError`` saying what is wrong."""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.core.models import Character, ShotType
from app.core.revisions import EditError

MAX_DESCRIPTION_WORDS = 120
MAX_DIALOGUE_WORDS = 300
MAX_CAMERA_CHARS = 60
MAX_NOTE_CHARS = 2000


def parse_framing(value: str | ShotType) -> ShotType:
    """A shot type from its code (``CU``, any case) or its name (``close-up``)."""
    if isinstance(value, ShotType):
        return value
    text = " ".join(str(value).split())
    for kind in ShotType:
        if text.casefold() in (kind.value.casefold(), kind.label.casefold(),
                               kind.name.casefold().replace("_", " ")):
            return kind
    choices = ", ".join(f"{k.value} ({k.label})" for k in ShotType)
    raise EditError(f"unknown framing {text!r}: one of {choices}")


def camera_move(value: str) -> str:
    """A camera move (static, pan, dolly, a slow push in...): one line, not empty."""
    text = " ".join(str(value).split())
    if not text:
        raise EditError("a camera move can't be empty (say \"static\" for none)")
    if len(text) > MAX_CAMERA_CHARS:
        raise EditError(f"a camera move is at most {MAX_CAMERA_CHARS} characters")
    return text


def dialogue(value: str) -> str:
    """What is said in the shot (may be empty: a silent shot), its lines single-spaced."""
    text = "\n".join(" ".join(line.split()) for line in str(value).strip().splitlines())
    if len(text.split()) > MAX_DIALOGUE_WORDS:
        raise EditError(f"a shot's dialogue is at most {MAX_DIALOGUE_WORDS} words")
    return text


def note(value: str) -> str:
    """The artist's free note (may be empty)."""
    text = str(value).strip()
    if len(text) > MAX_NOTE_CHARS:
        raise EditError(f"a note is at most {MAX_NOTE_CHARS} characters")
    return text


def cast(members: list[Character], names: Iterable[str] | str) -> list[str]:
    """Names of the run's cast (as the cast spells them), each once."""
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    spelt = {c.name.casefold(): c.name for c in members}
    chosen: list[str] = []
    for name in names:
        key = " ".join(str(name).split()).casefold()
        if not key:
            continue
        if key not in spelt:
            known = ", ".join(spelt.values()) or "none"
            raise EditError(f"no character named {' '.join(str(name).split())!r} in this run "
                            f"(its cast: {known})")
        if spelt[key] not in chosen:
            chosen.append(spelt[key])
    return chosen


def named_in(members: list[Character], text: str) -> list[str]:
    """The cast members whose names appear in ``text`` as words (any case)."""
    folded = text.casefold()
    return [c.name for c in members
            if re.search(rf"(?<!\w){re.escape(c.name.casefold())}(?!\w)", folded)]


def frame_size(size: tuple[int, int]) -> tuple[int, int]:
    """A renderer's (width, height), each 64 to 4096 pixels (``RunOptions``' bounds)."""
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise EditError(f"a frame size is (width, height), not {size!r}") from None
    if not (64 <= width <= 4096 and 64 <= height <= 4096):
        raise EditError(f"a frame size is 64 to 4096 pixels a side, not {width}x{height}")
    return width, height
