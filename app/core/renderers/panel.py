"""Draw a storyboard panel with Pillow: the draft renderer's picture of a shot.

A pure function of a plain ``PanelSpec`` (picklable, so it can run in a thread
or a process pool): same spec, same bytes. The panel has a header (shot
number, size, camera move, scene heading), a frame with a simple sketch whose
composition follows the shot size, and the description wrapped under it.
"""

from __future__ import annotations

import io
import random
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from app.core.provenance import png_info

PAPER = (246, 244, 238)
INK = (38, 38, 42)
PENCIL = (96, 96, 104)
WASH_DAY = (226, 228, 230)
WASH_NIGHT = (150, 156, 170)
ACCENT = (196, 72, 48)


@dataclass(frozen=True, slots=True)
class PanelSpec:
    width: int
    height: int
    seed: int
    shot_type: str
    number: str
    heading: str
    description: str
    camera: str = "static"


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow ships a FreeType font for load_default(size); no system fonts needed.
    return ImageFont.load_default(size=size)


def render_panel_png(spec: PanelSpec, text: Mapping[str, str] | None = None) -> bytes:
    """The panel as PNG bytes; ``text`` becomes iTXt chunks (see ``app.core.provenance``)."""
    return encode_png(render_panel(spec), text)


def encode_png(image: Image.Image, text: Mapping[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6,
               pnginfo=png_info(text) if text else None)
    return out.getvalue()


def render_panel(spec: PanelSpec) -> Image.Image:
    w, h = spec.width, spec.height
    image = Image.new("RGB", (w, h), PAPER)
    draw = ImageDraw.Draw(image)
    rng = random.Random(spec.seed)
    unit = max(1, min(w, h) // 100)

    # Text is sized by the height of a 16:9 frame as wide as this one (or this one's, when
    # wider still), so a portrait panel's lettering fits its width; a tall panel keeps
    # more lines of description, not bigger ones.
    base = min(h, round(w * 9 / 16))
    header_h = max(18, base // 11)
    text_size = max(10, base // 25 if w >= h else w // 36)
    footer_h = max(30, base // 5, h // 8 if h > w else 0)
    margin = max(6, w // 60)
    frame = (margin, header_h, w - margin, h - footer_h)

    _header(draw, spec, (margin, 0, w - margin, header_h))
    night = any(word in spec.heading.upper() for word in ("NIGHT", "DUSK", "EVENING"))
    # The sketch is drawn on its own canvas, so whatever reaches past the frame is clipped.
    inner = Image.new("RGB", (frame[2] - frame[0], frame[3] - frame[1]),
                      WASH_NIGHT if night else WASH_DAY)
    inner_draw = ImageDraw.Draw(inner)
    inner_box = (0, 0, inner.width, inner.height)
    interior = spec.heading.upper().startswith(("INT.", "INT ", "I/E"))
    _compose(inner_draw, spec.shot_type.upper(), inner_box, rng, unit, night, interior)
    _camera_mark(inner_draw, spec.camera.lower(), inner_box, unit)
    image.paste(inner, frame[:2])
    draw.rectangle(frame, outline=INK, width=max(2, unit // 2 + 1))
    _footer(draw, spec.description, (margin, h - footer_h, w - margin, h), text_size)
    return image


def _header(draw: ImageDraw.ImageDraw, spec: PanelSpec, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    size = max(10, int((y1 - y0) * 0.55))
    font = _font(size)
    y = y0 + (y1 - y0 - size) // 2
    left = f"{spec.number}  {spec.shot_type}"
    if spec.camera and spec.camera != "static":
        left += f"  ·  {spec.camera}"
    left = _fit(draw, left, font, (x1 - x0) * 3 // 5)
    draw.text((x0, y), left, fill=ACCENT, font=font)
    room = min((x1 - x0) // 2, int(x1 - x0 - draw.textlength(left, font=font) - size))
    heading = _fit(draw, spec.heading, font, max(size, room))
    draw.text((x1 - draw.textlength(heading, font=font), y), heading, fill=INK, font=font)


def _footer(draw: ImageDraw.ImageDraw, text: str, box: tuple[int, int, int, int],
            size: int) -> None:
    x0, y0, x1, y1 = box
    font = _font(size)
    max_lines = max(1, (y1 - y0 - size // 2) // int(size * 1.25))
    for n, line in enumerate(wrap(draw, text, font, x1 - x0, max_lines)):
        draw.text((x0, y0 + size // 2 + n * int(size * 1.25)), line, fill=INK, font=font)


def wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels in at most ``max_lines`` lines; what does not
    fit ends in an ellipsis, and a word longer than a line is cut."""
    lines: list[str] = []
    current = ""
    words = text.split()
    for n, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if len(lines) == max_lines:
            break
        current = _fit(draw, word, font, width)
        if len(lines) == max_lines - 1 and n + 1 < len(words):
            # the last line: the rest if it fits, else fill it and mark that the text goes on
            rest = " ".join(words[n:])
            current = rest if draw.textlength(rest, font=font) <= width else \
                _fit(draw, " ".join(words[n:n + 40]) + " …", font, width)
            break
    if current and len(lines) < max_lines:
        lines.append(current)
    return lines


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text``, or the longest start of it that fits ``width`` with an ellipsis."""
    if draw.textlength(text, font=font) <= width:
        return text
    low, high = 0, len(text)  # binary search: a long text costs log(n) measurements
    while low < high:
        mid = (low + high + 1) // 2
        if draw.textlength(text[:mid] + "…", font=font) <= width:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + "…"


# Compositions. Coordinates are fractions of the frame, so every size works.


class _Frame:
    def __init__(self, box: tuple[int, int, int, int]) -> None:
        self.x0, self.y0, self.x1, self.y1 = box
        self.w, self.h = self.x1 - self.x0, self.y1 - self.y0
        self.s = min(self.w, self.h)  # what figures scale by: a tall frame keeps them whole

    def p(self, fx: float, fy: float) -> tuple[int, int]:
        return (int(self.x0 + fx * self.w), int(self.y0 + fy * self.h))


def _compose(draw: ImageDraw.ImageDraw, kind: str, box, rng: random.Random, unit: int,
             night: bool, interior: bool) -> None:
    f = _Frame(box)
    line = max(2, unit // 2 + 1)

    def setting(horizon: float, hills: bool = True) -> None:
        if interior:
            _room(draw, f, rng, horizon=horizon, line=line, night=night)
        else:
            _outdoors(draw, f, rng, horizon=horizon, line=line, night=night, hills=hills)
    if kind == "EWS":
        setting(0.68)
        _figure(draw, f, rng.uniform(0.3, 0.7), 0.68, 0.08, line)
    elif kind == "WS":
        setting(0.58)
        _figure(draw, f, rng.uniform(0.35, 0.65), 0.86, 0.34, line)
    elif kind in ("MS", "2S"):
        setting(0.45, hills=False)
        xs = (0.36, 0.64) if kind == "2S" else (rng.uniform(0.4, 0.6),)
        for x in xs:
            _bust(draw, f, x, head_r=0.11, line=line)
    elif kind == "MCU":
        _bust(draw, f, rng.uniform(0.42, 0.58), head_r=0.17, line=line)
    elif kind == "CU":
        _face(draw, f, rng.uniform(0.45, 0.55), 0.5, 0.36, line)
    elif kind == "ECU":
        _eye(draw, f, line)
    elif kind == "OTS":
        _bust(draw, f, 0.66, head_r=0.12, line=line)
        draw.ellipse([f.p(-0.08, 0.25), f.p(0.32, 0.85)], fill=INK)
        draw.rectangle([f.p(-0.1, 0.7), f.p(0.42, 1.0)], fill=INK)
    elif kind == "POV":
        setting(0.55)
        _figure(draw, f, rng.uniform(0.4, 0.6), 0.75, 0.22, line)
        for corner in ((0, 0), (1, 0), (0, 1), (1, 1)):
            cx, cy = f.p(*corner)
            r = int(f.s * 0.45)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=PENCIL)
    else:  # INSERT and anything unknown: an object on a surface
        draw.rectangle([f.p(0, 0.62), f.p(1, 1)], fill=PENCIL)
        draw.rectangle([f.p(0.3, 0.3), f.p(0.7, 0.72)], outline=INK, width=line, fill=PAPER)
        for n in range(4):
            y = 0.4 + n * 0.07
            draw.line([f.p(0.35, y), f.p(0.35 + rng.uniform(0.2, 0.3), y)], fill=PENCIL,
                      width=line)


def _room(draw, f: _Frame, rng: random.Random, *, horizon: float, line: int,
          night: bool) -> None:
    """An interior in one-point perspective: back wall, floor, ceiling, a window."""
    left, right, top = rng.uniform(0.15, 0.25), rng.uniform(0.75, 0.85), 0.12
    wall = [f.p(left, top), f.p(right, horizon)]
    draw.rectangle(wall, fill=(210, 210, 206) if not night else (120, 124, 136), outline=INK,
                   width=line)
    for corner, edge in (((left, top), (0, 0)), ((right, top), (1, 0)),
                         ((left, horizon), (0, 1)), ((right, horizon), (1, 1))):
        draw.line([f.p(*corner), f.p(*edge)], fill=INK, width=line)
    wx = rng.uniform(left + 0.05, right - 0.2)
    window = [f.p(wx, top + 0.08), f.p(wx + 0.14, top + 0.3)]
    draw.rectangle(window, fill=PENCIL if night else PAPER, outline=INK, width=line)
    mid_x = (window[0][0] + window[1][0]) // 2
    draw.line([(mid_x, window[0][1]), (mid_x, window[1][1])], fill=INK, width=line)
    for n in range(1, 4):  # floor boards converge on the back wall
        x = left + (right - left) * n / 4
        draw.line([f.p(x, horizon), f.p(x + (x - 0.5) * 1.5, 1.0)], fill=PENCIL, width=1)


def _outdoors(draw, f: _Frame, rng: random.Random, *, horizon: float, line: int, night: bool,
              hills: bool = True) -> None:
    if hills:
        points = [f.p(0, horizon)]
        x = 0.0
        while x < 1.0:
            x = min(1.0, x + rng.uniform(0.08, 0.2))
            points.append(f.p(x, horizon - rng.uniform(0.02, 0.16)))
        points += [f.p(1, horizon), f.p(0, horizon)]
        draw.polygon(points, fill=PENCIL if night else (200, 202, 204))
    draw.line([f.p(0, horizon), f.p(1, horizon)], fill=INK, width=line)
    for n in range(1, 4):  # perspective lines on the ground
        draw.line([f.p(0.5, horizon), f.p(0.5 - n * 0.35, 1.0)], fill=PENCIL, width=1)
        draw.line([f.p(0.5, horizon), f.p(0.5 + n * 0.35, 1.0)], fill=PENCIL, width=1)
    sx, sy = f.p(rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.25))
    r = int(f.s * 0.06)
    draw.ellipse([sx - r, sy - r, sx + r, sy + r], outline=INK, width=line,
                 fill=(236, 236, 220) if night else PAPER)


def _figure(draw, f: _Frame, fx: float, feet: float, height: float, line: int) -> None:
    """A standing figure whose feet touch ``feet`` and whose height is a fraction of the frame."""
    x, y_feet = f.p(fx, feet)
    tall = int(f.h * height)
    head = max(2, tall // 8)
    top = y_feet - tall
    draw.ellipse([x - head, top, x + head, top + 2 * head], outline=INK, width=line)
    neck, hip = top + 2 * head, y_feet - tall // 2
    draw.line([(x, neck), (x, hip)], fill=INK, width=line)
    draw.line([(x, hip), (x - head, y_feet)], fill=INK, width=line)
    draw.line([(x, hip), (x + head, y_feet)], fill=INK, width=line)
    draw.line([(x - int(1.5 * head), neck + head), (x + int(1.5 * head), neck + head)],
              fill=INK, width=line)


def _bust(draw, f: _Frame, fx: float, *, head_r: float, line: int) -> None:
    r = int(f.s * head_r)
    cx, cy = f.p(fx, 0.2 + head_r * 1.8)
    shoulders = [cx - 3 * r, cy + int(1.3 * r), cx + 3 * r, cy + 7 * r]
    mid = (shoulders[1] + shoulders[3]) // 2
    bottom = max(mid, f.y1) + line
    draw.rectangle([shoulders[0], mid, shoulders[2], bottom], fill=PENCIL)
    for x in (shoulders[0], shoulders[2] - line + 1):
        draw.line([(x, mid), (x, bottom)], fill=INK, width=line)
    draw.pieslice(shoulders, 180, 360, fill=PENCIL)
    draw.arc(shoulders, 180, 360, fill=INK, width=line)
    draw.ellipse([cx - r, cy - int(1.2 * r), cx + r, cy + int(1.2 * r)], fill=PAPER, outline=INK,
                 width=line)


def _face(draw, f: _Frame, fx: float, fy: float, size: float, line: int) -> None:
    cx, cy = f.p(fx, fy)
    rx, ry = int(f.s * size * 0.8), int(f.s * size)
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=PAPER, outline=INK, width=line)
    eye_y, eye_dx, eye_r = cy - ry // 5, rx // 2, max(2, rx // 8)
    for dx in (-eye_dx, eye_dx):
        draw.ellipse([cx + dx - eye_r, eye_y - eye_r, cx + dx + eye_r, eye_y + eye_r], fill=INK)
    draw.line([(cx, eye_y + eye_r), (cx - rx // 8, cy + ry // 4)], fill=INK, width=line)
    draw.arc([cx - rx // 3, cy + ry // 4, cx + rx // 3, cy + ry // 2 + ry // 6], 20, 160,
             fill=INK, width=line)


def _eye(draw, f: _Frame, line: int) -> None:
    cx, cy = f.p(0.5, 0.5)
    rx, ry = int(f.w * 0.38), int(f.h * 0.3)
    draw.chord([cx - rx, cy - ry, cx + rx, cy + ry], 200, 340, fill=PAPER, outline=INK, width=line)
    draw.chord([cx - rx, cy - ry, cx + rx, cy + ry], 20, 160, fill=PAPER, outline=INK, width=line)
    r = int(ry * 0.55)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=PENCIL, outline=INK, width=line)
    draw.ellipse([cx - r // 2, cy - r // 2, cx + r // 2, cy + r // 2], fill=INK)


def _camera_mark(draw, camera: str, box, unit: int) -> None:
    """Storyboard arrows for the camera move, in the frame's top corner."""
    f = _Frame(box)
    width = max(2, unit)
    if "pan" in camera or "truck" in camera:
        left = "left" in camera
        a, b = (f.p(0.9, 0.08), f.p(0.65, 0.08)) if left else (f.p(0.65, 0.08), f.p(0.9, 0.08))
        _arrow(draw, a, b, width)
    elif "tilt" in camera or "crane" in camera or "pedestal" in camera:
        up = "up" in camera
        a, b = (f.p(0.93, 0.35), f.p(0.93, 0.08)) if up else (f.p(0.93, 0.08), f.p(0.93, 0.35))
        _arrow(draw, a, b, width)
    elif "dolly" in camera or "push" in camera or "zoom" in camera:
        out = "out" in camera or "pull" in camera
        for corner, inner in (((0.02, 0.04), (0.12, 0.2)), ((0.98, 0.04), (0.88, 0.2))):
            a, b = (f.p(*inner), f.p(*corner)) if out else (f.p(*corner), f.p(*inner))
            _arrow(draw, a, b, width)
    elif "handheld" in camera:
        pts = [f.p(0.7 + n * 0.04, 0.08 + (0.03 if n % 2 else 0)) for n in range(6)]
        draw.line(pts, fill=ACCENT, width=width)


def _arrow(draw, a: tuple[int, int], b: tuple[int, int], width: int) -> None:
    draw.line([a, b], fill=ACCENT, width=width)
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = max(1.0, (dx * dx + dy * dy) ** 0.5)
    ux, uy = dx / length, dy / length
    size = 4 * width
    left = (b[0] - size * ux + size * 0.6 * uy, b[1] - size * uy - size * 0.6 * ux)
    right = (b[0] - size * ux - size * 0.6 * uy, b[1] - size * uy + size * 0.6 * ux)
    draw.polygon([b, left, right], fill=ACCENT)
