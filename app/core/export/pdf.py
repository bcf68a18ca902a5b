"""A printable storyboard PDF, drawn with reportlab (BSD; no Qt, no system fonts).

Page 1 is a title page: title, logline, what the run is (its frame and running
time), and its scenes with their shots and time. Then pages of panels in board
order, in a grid of 1 to 6 columns, as many rows as fit: each panel has the shot
number, type and camera move, the scene heading, how long it is held, the image
in a frame of the board's aspect ratio (an image of another shape, drawn before
an aspect change, is fitted inside it, never stretched), the description (the
action), the dialogue when the shot has some and the artist's note. A4 or US
Letter, landscape or portrait. One column on a portrait page is a shot list: the
text stands beside the picture.

Text is set in Bitstream Vera, which ships inside reportlab, embedded as a
subset, so it shows on every machine and is searchable. A character the font
lacks prints as a visible box (never silently dropped) and the export reports
how many there were; ``ExportOptions.font`` takes a TTF with wider coverage
(e.g. DejaVu Sans) for such scripts. Images are scaled to 200 dpi at their
printed size before embedding, so a long run stays a reasonable file.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image

from app import __version__
from app.core.export.base import (
    BadExportOptions,
    ExportJob,
    ExportToolMissing,
    Panel,
    in_thread,
)
from app.core.timing import format_duration

MARGIN = 36.0  # points: half an inch
GAP = 14.0
FOOTER = 16.0
PRINT_DPI = 200
INK = (0.15, 0.15, 0.16)
GREY = (0.45, 0.45, 0.48)
ACCENT = (0.77, 0.28, 0.19)
DESCRIPTION_LINES = 3
DIALOGUE_LINES = 2
NOTE_LINES = 1  # when any shot of the board has a note


def _reportlab() -> Any:
    try:
        import reportlab
    except ImportError:
        raise ExportToolMissing("pdf export needs reportlab: pip install 'reportlab>=4'") from None
    return reportlab


@dataclass(frozen=True, slots=True)
class Fonts:
    regular: str
    bold: str
    italic: str
    covered: frozenset[int]  # code points the regular font has glyphs for
    label: str


@cache
def _register(font: Path | None) -> Fonts:
    reportlab = _reportlab()
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    if font is None:
        folder = Path(reportlab.__file__).parent / "fonts"
        files = {"regular": folder / "Vera.ttf", "bold": folder / "VeraBd.ttf",
                 "italic": folder / "VeraIt.ttf"}
        label = "Bitstream Vera"
    else:
        files = dict.fromkeys(("regular", "bold", "italic"), font)
        label = font.name
    tag = hashlib.blake2b(str(font).encode(), digest_size=4).hexdigest()
    names = {}
    for style, path in files.items():
        name = f"Storyreel-{tag}-{style}"
        try:
            ttf = TTFont(name, str(path))
        except (OSError, TTFError) as exc:
            error = ExportToolMissing if font is None else BadExportOptions
            raise error(f"cannot load the font {path}: {exc}") from None
        pdfmetrics.registerFont(ttf)
        names[style] = name
        if style == "regular":
            covered = frozenset(ttf.face.charToGlyph)
    return Fonts(names["regular"], names["bold"], names["italic"], covered, label)


# Layout: pure arithmetic on page sizes, tested on its own.

PAGE_POINTS = {"a4": (595.2756, 841.8898), "letter": (612.0, 792.0)}


@dataclass(frozen=True, slots=True)
class Layout:
    page: tuple[float, float]  # width, height in points
    columns: int
    rows: int
    cell_w: float
    cell_h: float
    image_w: float
    image_h: float
    font_size: float
    text_beside: bool = False  # one column on a portrait page: a shot list, text right
    description_lines: int = DESCRIPTION_LINES
    note_lines: int = 0

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def leading(self) -> float:
        return self.font_size * 1.25

    @property
    def header_h(self) -> float:
        return self.font_size * 1.7

    @property
    def text_x(self) -> float:
        """Where the text under (or beside) the picture starts, from the cell's left."""
        return self.image_w + GAP if self.text_beside else 0.0

    @property
    def text_w(self) -> float:
        return self.cell_w - self.text_x

    @property
    def text_top(self) -> float:
        """The first text baseline, down from the cell's top."""
        if self.text_beside:
            return self.header_h + self.font_size
        return self.header_h + self.image_h + self.leading

    def pages_for(self, panels: int) -> int:
        """Pages of the whole PDF: the title page and the panel pages."""
        return 1 + max(1, math.ceil(panels / self.per_page))

    def cell_origin(self, slot: int) -> tuple[float, float]:
        """Top-left corner (x, y from the bottom) of grid slot ``slot`` on a page."""
        row, col = divmod(slot, self.columns)
        x = MARGIN + col * (self.cell_w + GAP)
        y = self.page[1] - MARGIN - row * (self.cell_h + GAP)
        return x, y


def layout_for(page_size: str, orientation: str, columns: int, aspect: float,
               note_lines: int = 0) -> Layout:
    w, h = PAGE_POINTS[page_size]
    if orientation == "landscape":
        w, h = h, w
    cell_w = (w - 2 * MARGIN - (columns - 1) * GAP) / columns
    font_size = min(10.0, max(6.5, cell_w / 30))
    leading = font_size * 1.25
    header_h = font_size * 1.7
    avail_h = h - 2 * MARGIN - FOOTER
    if columns == 1 and orientation == "portrait":
        image_w = cell_w * 0.6
        image_h = min(image_w / aspect, avail_h - header_h)
        image_w = image_h * aspect
        rows = max(1, int((avail_h + GAP) // (header_h + image_h + GAP)))
        lines = max(2, int(image_h // leading) - DIALOGUE_LINES - note_lines)
        return Layout((w, h), columns, rows, cell_w, header_h + image_h, image_w, image_h,
                      font_size, text_beside=True, description_lines=lines,
                      note_lines=note_lines)
    text_h = header_h + (DESCRIPTION_LINES + DIALOGUE_LINES + note_lines) * leading \
        + font_size * 0.6
    image_w, image_h = cell_w, cell_w / aspect
    rows = int((avail_h + GAP) // (image_h + text_h + GAP))
    if rows < 1:  # one panel does not fit the height: shrink the picture, keep its shape
        rows = 1
        image_h = max(24.0, avail_h - text_h)
        image_w = min(cell_w, image_h * aspect)
        image_h = image_w / aspect
    return Layout((w, h), columns, rows, cell_w, image_h + text_h, image_w, image_h, font_size,
                  note_lines=note_lines)


# Drawing.


class _Writer:
    def __init__(self, job: ExportJob) -> None:
        _reportlab()
        from reportlab.lib.utils import simpleSplit
        from reportlab.pdfbase.pdfmetrics import stringWidth
        from reportlab.pdfgen.canvas import Canvas

        self.job = job
        opts = job.options
        self.fonts = _register(opts.font.absolute() if opts.font else None)
        notes = NOTE_LINES if any(p.shot.note.strip() for p in job.panels) else 0
        self.layout = layout_for(opts.page_size, opts.orientation, opts.columns, job.aspect,
                                 notes)
        self.split, self.width_of = simpleSplit, stringWidth
        # the initial font too, or reportlab references a non-embedded Helvetica on every page
        self.canvas = Canvas(str(job.temp), pagesize=self.layout.page, pageCompression=1,
                             initialFontName=self.fonts.regular, initialFontSize=10)
        self.pages = self.layout.pages_for(len(job.panels))
        self.missing_glyphs: set[str] = set()

    def write(self) -> None:
        c, job = self.canvas, self.job
        c.setTitle(job.title)
        c.setAuthor("Storyreel")
        c.setSubject(job.run.script.logline if job.run.script else job.run.idea[:200])
        c.setCreator(f"Storyreel {__version__}")
        c.setKeywords(f"storyboard, storyreel run {job.run.run_id}")
        self._title_page()
        per_page = self.layout.per_page
        for page in range(self.pages - 1):
            job.check_stop()
            c.showPage()
            for slot, panel in enumerate(job.panels[page * per_page:(page + 1) * per_page]):
                self._panel(panel, *self.layout.cell_origin(slot))
            self._footer(page + 2)
            job.report((page + 1) / (self.pages - 1) * 0.97, f"page {page + 2}/{self.pages}")
        c.showPage()
        job.check_stop()
        c.save()

    # Text helpers.

    def _text(self, text: str, x: float, y: float, font: str, size: float,
              color=INK, right: bool = False) -> None:
        self._note_missing(text)
        c = self.canvas
        c.setFont(font, size)
        c.setFillColorRGB(*color)
        if right:
            c.drawRightString(x, y, text)
        else:
            c.drawString(x, y, text)

    def _lines(self, text: str, font: str, size: float, width: float, limit: int) -> list[str]:
        lines = self.split(" ".join(text.split()), font, size, width)
        if len(lines) > limit:
            lines = lines[:limit]
            lines[-1] = self._fit(lines[-1] + " …", font, size, width)
        return [self._fit(line, font, size, width) for line in lines]

    def _fit(self, text: str, font: str, size: float, width: float) -> str:
        if self.width_of(text, font, size) <= width:
            return text
        while text and self.width_of(text + "…", font, size) > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def _note_missing(self, text: str) -> None:
        self.missing_glyphs.update(ch for ch in text if ord(ch) not in self.fonts.covered
                                   and not ch.isspace())

    # Pages.

    def _title_page(self) -> None:
        c, job, f = self.canvas, self.job, self.fonts
        w, h = self.layout.page
        width = w - 4 * MARGIN
        y = h - MARGIN - h * 0.18
        for line in self._lines(job.title, f.bold, 30, width, 3):
            self._text(line, w / 2 - self.width_of(line, f.bold, 30) / 2, y, f.bold, 30)
            y -= 38
        y -= 10
        logline = job.run.script.logline if job.run.script else ""
        for line in self._lines(logline, f.italic, 14, width, 6):
            self._text(line, w / 2 - self.width_of(line, f.italic, 14) / 2, y, f.italic, 14)
            y -= 19
        y -= 24
        c.setStrokeColorRGB(*GREY)
        c.setLineWidth(0.6)
        c.line(2 * MARGIN, y + 10, w - 2 * MARGIN, y + 10)
        run = job.run
        shots = len(job.panels)
        facts = [f"{len(run.scenes)} scenes, {shots} shots"
                 + (f", {shots - len(job.with_images)} without an image"
                    if len(job.with_images) < shots else "")
                 + f"; running time {format_duration(job.running_time)}; "
                   f"frame {run.aspect}",
                 f"run {run.run_id}, seed {run.seed}, created {run.created_at:%Y-%m-%d}",
                 f"style: {run.style}" if run.style else ""]
        for fact in filter(None, facts):
            y -= 16
            self._text(fact, 2 * MARGIN, y, f.regular, 10, GREY)
        y -= 12
        counts: dict[int, int] = {}
        seconds: dict[int, float] = {}
        for panel in job.panels:
            counts[panel.shot.scene] = counts.get(panel.shot.scene, 0) + 1
            seconds[panel.shot.scene] = (seconds.get(panel.shot.scene, 0.0)
                                         + job.options.seconds_for(panel.shot))
        for n, scene in enumerate(run.scenes):
            if y < MARGIN + FOOTER + 28:
                self._text(f"… and {len(run.scenes) - n} more scenes", 2 * MARGIN, y - 15,
                           f.italic, 10, GREY)
                break
            y -= 15
            line = self._fit(f"{scene.index}.  {scene.heading}", f.regular, 10, width - 110)
            self._text(line, 2 * MARGIN, y, f.regular, 10)
            count = counts.get(scene.index, 0)
            said = f"{count} shots" + (f" · {format_duration(seconds[scene.index])}"
                                       if count else "")
            self._text(said, w - 2 * MARGIN, y, f.regular, 10, GREY, right=True)
        self._footer(1)
        self.job.report(0.02, f"page 1/{self.pages}")

    def _footer(self, page: int) -> None:
        w = self.layout.page[0]
        f = self.fonts
        title = self._fit(self.job.title, f.regular, 8, w / 2)
        self._text(title, MARGIN, MARGIN - 4, f.regular, 8, GREY)
        self._text(f"page {page} of {self.pages}", w - MARGIN, MARGIN - 4, f.regular, 8, GREY,
                   right=True)

    def _panel(self, panel: Panel, x: float, top: float) -> None:
        c, lay, f, shot = self.canvas, self.layout, self.fonts, panel.shot
        size = lay.font_size
        # header: number, type and camera on the left; the scene heading on the right
        left = f"{shot.number}  {shot.shot_type.value}"
        if shot.camera and shot.camera != "static":
            left += f" · {shot.camera}"
        left = self._fit(left, f.bold, size, lay.cell_w * 0.55)
        base = top - size
        self._text(left, x, base, f.bold, size, ACCENT)
        # how long the shot is held, at the right; the scene heading in what is left
        held = format_duration(self.job.options.seconds_for(shot))
        held_w = self.width_of(held, f.bold, size)
        self._text(held, x + lay.cell_w, base, f.bold, size, INK, right=True)
        room = lay.cell_w - self.width_of(left, f.bold, size) - held_w - 2 * size
        heading = self._fit(panel.heading, f.regular, size * 0.9, max(room, 10))
        self._text(heading, x + lay.cell_w - held_w - size, base, f.regular, size * 0.9, GREY,
                   right=True)
        # the picture, centred in the cell when it had to shrink
        ix = x if lay.text_beside else x + (lay.cell_w - lay.image_w) / 2
        iy = top - lay.header_h - lay.image_h
        if panel.image is not None:
            picture = self._printable(panel.image)
            pw, ph = picture.getSize()
            if abs(pw / ph - lay.image_w / lay.image_h) > 0.01 * lay.image_w / lay.image_h:
                # drawn in another frame (before an aspect change): fitted, never stretched
                c.setFillColorRGB(0.93, 0.93, 0.92)
                c.rect(ix, iy, lay.image_w, lay.image_h, stroke=0, fill=1)
            c.drawImage(picture, ix, iy, lay.image_w, lay.image_h, preserveAspectRatio=True,
                        anchor="c")
        else:
            c.setFillColorRGB(0.93, 0.93, 0.92)
            c.rect(ix, iy, lay.image_w, lay.image_h, stroke=0, fill=1)
            reason = f"no image ({shot.status.value})"
            self._text(reason, ix + lay.image_w / 2 - self.width_of(reason, f.italic, size) / 2,
                       iy + lay.image_h / 2, f.italic, size, GREY)
        c.setStrokeColorRGB(*INK)
        c.setLineWidth(0.8)
        c.rect(ix, iy, lay.image_w, lay.image_h, stroke=1, fill=0)
        # the action, then the dialogue: under the picture, or beside it
        tx, y = x + lay.text_x, top - lay.text_top
        for line in self._lines(shot.description, f.regular, size, lay.text_w,
                                lay.description_lines):
            self._text(line, tx, y, f.regular, size)
            y -= lay.leading
        if shot.dialogue:
            who = f"{panel.speaker}: " if panel.speaker else ""
            for line in self._lines(f"{who}“{shot.dialogue}”", f.italic, size, lay.text_w,
                                    DIALOGUE_LINES):
                self._text(line, tx, y, f.italic, size, ACCENT)
                y -= lay.leading
        if shot.note.strip() and lay.note_lines:
            for line in self._lines(f"Note: {shot.note}", f.italic, size, lay.text_w,
                                    lay.note_lines):
                self._text(line, tx, y, f.italic, size, GREY)
                y -= lay.leading

    def _printable(self, path: Path) -> Any:
        """The image scaled down to PRINT_DPI at its printed size (never up)."""
        from reportlab.lib.utils import ImageReader

        lay = self.layout
        want = (round(lay.image_w / 72 * PRINT_DPI), round(lay.image_h / 72 * PRINT_DPI))
        with Image.open(path) as source:
            picture = source.convert("RGB")
        scale = min(want[0] / picture.width, want[1] / picture.height)  # its own shape kept
        if scale < 1 / 1.1:
            picture = picture.resize((max(1, round(picture.width * scale)),
                                      max(1, round(picture.height * scale))),
                                     Image.Resampling.LANCZOS)
        return ImageReader(picture)


def write_pdf_sync(job: ExportJob) -> int:
    """Write the PDF to ``job.temp``; returns how many distinct characters had no glyph."""
    writer = _Writer(job)
    writer.write()
    if writer.missing_glyphs:
        sample = "".join(sorted(writer.missing_glyphs)[:12])
        job.report(0.99, f"{len(writer.missing_glyphs)} characters have no glyph in "
                         f"{writer.fonts.label} and print as boxes ({sample}); "
                         "choose a font that covers them")
    return len(writer.missing_glyphs)


async def write_pdf(job: ExportJob) -> None:
    await in_thread(job, write_pdf_sync, job)
