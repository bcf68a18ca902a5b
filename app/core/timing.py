"""How long each shot is held on the animatic and the timeline, and the board's total.

A shot's duration is the artist's when they set one (``Shot.duration_s``);
otherwise it follows its dialogue, read at a steady pace, with a floor for a
silent shot (a beat to take the picture in) and a little air after the words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from app.core.models import Shot
from app.core.revisions import EditError

WORDS_PER_SECOND = 2.5  # unhurried screen dialogue: 150 words a minute
SILENT_S = 2.0  # a shot with no dialogue, and the floor for any shot
AIR_S = 0.5  # after the last word, before the cut
MIN_S, MAX_S = 0.1, 600.0  # what an artist may set

_WORD = re.compile(r"[\w'’-]+")


def spoken_seconds(dialogue: str) -> float:
    """The time the dialogue takes to say, in seconds (0 for none)."""
    return len(_WORD.findall(dialogue or "")) / WORDS_PER_SECOND


def default_duration(dialogue: str) -> float:
    """A shot's duration from its dialogue alone, to the tenth of a second."""
    words = spoken_seconds(dialogue)
    if not words:
        return SILENT_S
    return max(SILENT_S, math.ceil((words + AIR_S) * 10) / 10)


def shot_duration(shot: Shot) -> float:
    """How long ``shot`` is held: the artist's duration, or the one from its dialogue."""
    return float(shot.duration_s) if shot.duration_s is not None else \
        default_duration(shot.dialogue)


def board_duration(shots: Iterable[Shot]) -> float:
    """The board's running time: every shot's duration, summed."""
    return round(sum(shot_duration(s) for s in shots), 3)


def check_duration(seconds: float) -> float:
    """An artist's duration, checked: a finite number of seconds, 0.1 to 600."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise EditError(f"a duration is a number of seconds, not {seconds!r}") from None
    if not (math.isfinite(value) and MIN_S <= value <= MAX_S):
        raise EditError(f"a duration must be {MIN_S:g} to {MAX_S:g} seconds, not {seconds!r}")
    return round(value, 3)


def format_duration(seconds: float) -> str:
    """``"4.5 s"`` under a minute, ``"2:05"`` from one minute, ``"1:02:05"`` from an hour."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
