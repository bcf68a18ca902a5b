"""The frame of a board: its aspect ratio, and the image sizes that follow from it.

A run's aspect is chosen when it starts (``run --aspect``) and may change later
(``edit --aspect``: every shot goes stale). Renderers draw at a size derived
from it: multiples of 16 (what the image model and the worker's contract take),
as near as possible to a pixel budget without passing it, each side within the
worker's contract (256 to 2048). Draft panels and every export follow the same
ratio, so a 2.39:1 board is 2.39:1 from the first panel to the mp4.
"""

from __future__ import annotations

from app.core.errors import StoryreelError

DEFAULT_ASPECT = "16:9"

# Label -> width / height, in the order a person meets them (widest first).
ASPECTS: dict[str, float] = {
    "2.39:1": 2.39,
    "1.85:1": 1.85,
    "16:9": 16 / 9,
    "4:3": 4 / 3,
    "1:1": 1.0,
    "9:16": 9 / 16,
}

GPU_PIXELS = 1024 * 1024  # near one megapixel: inside every worker's limits (app.worker.limits)
DRAFT_LONG_SIDE = 1024  # draft panels: the long side, as the draft renderer has always drawn
MIN_SIDE, MAX_SIDE, MULTIPLE = 256, 2048, 16


class AspectError(StoryreelError):
    """An aspect ratio that is not one of ours."""


def parse_aspect(text: str) -> str:
    """The canonical label of an aspect ratio: ``"2.39"``, ``"2.39:1"``, ``" 16:9 "`` and
    ``"16x9"`` are all accepted; anything else raises ``AspectError`` naming the choices."""
    raw = str(text).strip().lower().replace("x", ":").replace("/", ":")
    if raw in ASPECTS:
        return raw
    candidates = [raw + ":1"] if ":" not in raw else []
    for label in candidates:
        if label in ASPECTS:
            return label
    raise AspectError(f"aspect ratio {str(text).strip()!r} is not one of: {', '.join(ASPECTS)}")


def ratio(aspect: str) -> float:
    """Width over height of a canonical aspect label."""
    return ASPECTS[parse_aspect(aspect)]


def frame_size(aspect: str, *, pixels: int = GPU_PIXELS) -> tuple[int, int]:
    """The largest size of ``aspect`` in multiples of 16, sides 256 to 2048, with at most
    ``pixels`` pixels, whose ratio is within 1% of the aspect (the closest ratio wins a
    tie in area). 16:9 at one megapixel is 1360 x 768; 2.39:1 is 1568 x 656."""
    r = ratio(aspect)
    best: tuple[int, float, int, int] | None = None
    for h in range(MIN_SIDE, MAX_SIDE + 1, MULTIPLE):
        w = round(h * r / MULTIPLE) * MULTIPLE
        if not MIN_SIDE <= w <= MAX_SIDE or w * h > pixels:
            continue
        error = abs(w / h - r) / r
        if error > 0.01:
            continue
        key = (w * h, -error, w, h)
        if best is None or key > best:
            best = key
    if best is None:
        raise AspectError(f"no {aspect} frame of at most {pixels} pixels fits the worker's "
                          f"sides ({MIN_SIDE} to {MAX_SIDE})")
    return best[2], best[3]


def draft_size(aspect: str, *, long_side: int = DRAFT_LONG_SIDE) -> tuple[int, int]:
    """A draft panel's size: ``long_side`` on the long side, the other side even
    (16:9 is 1024 x 576, 9:16 is 576 x 1024)."""
    r = ratio(aspect)
    if r >= 1:
        return long_side, max(2, 2 * round(long_side / r / 2))
    return max(2, 2 * round(long_side * r / 2)), long_side


def aspect_of(width: int, height: int) -> str:
    """The label nearest to a width and height (for runs made before aspects existed)."""
    r = width / height if height else ASPECTS[DEFAULT_ASPECT]
    return min(ASPECTS, key=lambda label: abs(ASPECTS[label] - r) / ASPECTS[label])
