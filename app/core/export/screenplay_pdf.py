"""The screenplay as a PDF formatted to the industry's page: Courier 12 pt at 10
characters and 6 lines an inch, margins 1.5" left and 1" right, top and bottom,
dialogue 2.5" from the page's left edge, parentheticals 3.1", character cues 3.7",
transitions right-aligned, scene headings in capitals, a title page, and page
numbers top right from the second page of the script.

The layout is screenplain's PDF writer (on reportlab), which has the right frame
(1.5" left, 1" top, 12 pt lines) and draws the title page, dual dialogue and the
page numbers; we give it the standard Courier (a PDF base font: nothing embedded)
in place of its bundled Courier Prime, 60 characters a line and whole 1" bottom and
right margins, move the cues and parentheticals to where the industry puts them
(screenplain has 3.4" and 2.8"), and feed it the screenplay as our reader sees it
(``app.core.screenplay.layout``: ``I./E.`` headings, transitions, notes removed).
Letter paper by default in the industry; A4 when the export asks for it. Courier
prints Windows-1252's characters; ``ExportOptions.font`` embeds a TTF for others, and
the export says which characters would print as boxes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core import screenplay
from app.core.export.base import BadExportOptions, ExportJob, ExportToolMissing, in_thread
from app.core.text import printable

CHARACTERS_PER_LINE = 60  # 6" of Courier 12 pt
CUE_AT = 22  # characters from the left margin: 1.5" + 2.2" = 3.7"
PARENTHETICAL_AT = 16  # 3.1"
DIALOGUE_AT = 10  # 2.5"
DIALOGUE_WIDTH = 35  # 3.5": dialogue ends at 6"


def write_pdf(text: str, title: str, target: object, page_size: str = "letter",
              font: Path | None = None) -> str:
    """Lay ``text`` (Fountain) out as a screenplay PDF at ``target`` (a path or a file).
    ``font``: a TTF to embed in place of Courier (for scripts Courier cannot print, such
    as Cyrillic or CJK; a monospaced one keeps the page count right). Returns the
    characters of the text the font has no glyph for (they print as boxes), sorted."""
    try:
        from reportlab.lib import pagesizes
        from reportlab.lib.units import inch
        from screenplain.export import pdf
        from screenplain.types import Screenplay
    except ImportError:
        raise ExportToolMissing("screenplay-pdf export needs reportlab: "
                                "pip install 'reportlab>=4'") from None
    size = pagesizes.A4 if page_size == "a4" else pagesizes.letter
    lines_per_page = int((size[1] - 2 * inch) // 12)  # 1" top and bottom, 12 pt lines
    fonts, covers = _fonts(pdf, font)
    settings = pdf.Settings(font_size=12, lines_per_page=lines_per_page,
                            characters_per_line=CHARACTERS_PER_LINE, page_size=size,
                            font_settings=fonts)
    width = settings.character_width
    settings.title_style.fontSize, settings.title_style.leading = 12, 24  # 12 pt throughout
    settings.character_style.leftIndent = CUE_AT * width
    settings.parenthentical_style.leftIndent = PARENTHETICAL_AT * width
    settings.parenthentical_style.rightIndent = settings.frame_width - (
        DIALOGUE_AT + DIALOGUE_WIDTH) * width
    settings.dialog_style.leftIndent = DIALOGUE_AT * width
    settings.dialog_style.rightIndent = settings.frame_width - (
        DIALOGUE_AT + DIALOGUE_WIDTH) * width
    title_page, paragraphs = screenplay.layout(
        printable(text.replace("\r\n", "\n").replace("\r", "\n")))
    page = {key: [printable(v, one_line=True) for v in values] for key, values in
            title_page.items()}
    if not any(page.get("Title", [])):
        page["Title"] = [printable(title, one_line=True)]
    if (page.get("Author") or page.get("Authors")) and not page.get("Credit"):
        page["Credit"] = ["Written by"]
    pdf.to_pdf(Screenplay(page, paragraphs), target, settings=settings)
    shown = "".join([*(v for values in page.values() for v in values),
                     *(str(t) for p in paragraphs for t in _texts(p))])
    return "".join(sorted({ch for ch in shown if not ch.isspace() and not covers(ch)}))


def _texts(paragraph: Any) -> list:
    """The rich strings a paragraph prints (a dual dialogue's two sides)."""
    sides = [paragraph.left, paragraph.right] if hasattr(paragraph, "left") else [paragraph]
    return [t for side in sides for t in (
        [side.character, *(line for _, line in side.blocks)] if hasattr(side, "blocks")
        else getattr(side, "lines", []))]


def _fonts(pdf: Any, font: Path | None) -> tuple[Any, Callable[[str], bool]]:
    """screenplain's font settings and a test of which characters the font can print."""
    if font is None:  # Courier, a PDF base font: Windows-1252's characters
        return pdf.get_standard_font_settings(), _in_cp1252
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    name = "Storyreel-Screenplay-" + hashlib.blake2b(str(font).encode(),
                                                     digest_size=4).hexdigest()
    settings = pdf.FontSettings(name)
    settings.file_normal = settings.file_bold = str(font)
    settings.file_italic = settings.file_bold_italic = str(font)
    try:
        settings.register()
        covered = frozenset(TTFont(name + "-probe", str(font)).face.charToGlyph)
    except (OSError, TTFError) as exc:
        raise BadExportOptions(f"cannot load the font {font}: {exc}") from None
    return settings, lambda ch: ord(ch) in covered


def _in_cp1252(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def write_sync(job: ExportJob) -> None:
    text = job.run.script.screenplay if job.run.script else ""
    missing = write_pdf(text, job.title, str(job.temp), job.options.page_size,
                        job.options.font)
    if missing:
        font = job.options.font.name if job.options.font else "Courier"
        job.report(0.99, f"{len(missing)} characters have no glyph in {font} and print "
                         f"as boxes ({missing[:12]}); choose a font that covers them")


async def write_screenplay_pdf(job: ExportJob) -> None:
    await in_thread(job, write_sync, job)
