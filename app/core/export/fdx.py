"""The screenplay as Final Draft XML (``.fdx``), for Final Draft, Fade In, WriterDuet...

The Fountain text is read with screenplain and the gaps our reader fills
(``app.core.screenplay.layout``); the XML is written here with ``xml.etree``
rather than with screenplain's own FDX writer, which works on screenplain's raw
reading (so an ``I./E.`` heading would become action and its scene be lost on the
way back), writes no title page, no scene numbers, no page breaks, and escapes
text without removing the control characters XML 1.0 forbids. ElementTree
escapes every text and attribute; control characters are removed before.

The result reads back with our own importer (``app.core.screenplay_fdx``) and
screenplain's FDX reader, with the same scene headings and title.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from screenplain.export.fdx import style_names
from screenplain.types import Action, Dialog, DualDialog, PageBreak, Slug, Transition

from app.core import screenplay
from app.core.export.base import ExportJob, in_thread
from app.core.text import printable

# What XML 1.0 cannot hold besides the control characters ``printable`` removes.
_NOT_XML = re.compile("[\ufffe\uffff\ud800-\udfff]")
# Title-page keys placed centred on the page, in this order; the others go below.
_CENTRED = ("Title", "Credit", "Author", "Authors", "Source")
_TITLE_LINE, _PAGE_LINES = 18, 54


def clean(text: object) -> str:
    return _NOT_XML.sub("", printable(text))


def to_fdx(text: str, title: str = "") -> bytes:
    """The Fountain screenplay ``text`` as a UTF-8 FDX document. ``title`` is used when
    the screenplay's title page has none."""
    title_page, paragraphs = screenplay.layout(
        clean(text.replace("\r\n", "\n").replace("\r", "\n")))
    root = ET.Element("FinalDraft", DocumentType="Script", Template="No", Version="5")
    content = ET.SubElement(root, "Content")
    new_page = False
    for p in paragraphs:
        if isinstance(p, PageBreak):
            new_page = True
            continue
        start = len(content)
        _write(content, p)
        if new_page and len(content) > start:
            content[start].set("StartsNewPage", "Yes")
            new_page = False
    root.append(_title_page(title_page, title))
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def _write(parent: ET.Element, p: object) -> None:
    if isinstance(p, Slug):
        para = _paragraph(parent, "Scene Heading", [p.line])
        if p.scene_number:
            para.set("Number", clean(str(p.scene_number)).strip())
    elif isinstance(p, DualDialog):
        dual = ET.SubElement(ET.SubElement(parent, "Paragraph"), "DualDialogue")
        _dialog(dual, p.left)
        _dialog(dual, p.right)
    elif isinstance(p, Dialog):
        _dialog(parent, p)
    elif isinstance(p, screenplay.Lyrics):
        _paragraph(parent, "Lyrics", p.lines)
    elif isinstance(p, Action):
        para = _paragraph(parent, "Action", p.lines)
        if p.centered:
            para.set("Alignment", "Center")
    elif isinstance(p, Transition):
        _paragraph(parent, "Transition", [p.line])


def _dialog(parent: ET.Element, dialog: Dialog) -> None:
    _paragraph(parent, "Character", [dialog.character])
    for parenthetical, line in dialog.blocks:
        _paragraph(parent, "Parenthetical" if parenthetical else "Dialogue", [line])


def _paragraph(parent: ET.Element, kind: str, lines: list) -> ET.Element:
    """A paragraph of ``lines`` (screenplain rich strings): one ``<Text>`` per styled run,
    a newline ending each line but the last, as Final Draft writes them."""
    para = ET.SubElement(parent, "Paragraph", Type=kind)
    for n, line in enumerate(lines):
        segments = list(getattr(line, "segments", ())) or [None]
        for m, segment in enumerate(segments):
            words = clean(segment.text if segment is not None else line)
            if n < len(lines) - 1 and m == len(segments) - 1:
                words += "\n"
            run = ET.SubElement(para, "Text")
            run.text = words
            styles = [style_names[s] for s in segment.get_ordered_styles()] if segment else []
            if styles:
                run.set("Style", "+".join(styles))
    return para


def _title_page(page: dict[str, list[str]], fallback: str) -> ET.Element:
    """Final Draft's title page is free text: the title, the credit and the author
    centred, the rest (draft date, contact, custom keys) below, left."""
    lines = {key: [clean(v).strip() for v in values if clean(v).strip()]
             for key, values in page.items()}
    title = " ".join(lines.get("Title", [])) or printable(fallback, one_line=True)
    authors = lines.get("Author", []) + lines.get("Authors", [])
    credit = lines.get("Credit", []) or (["Written by"] if authors else [])
    element = ET.Element("TitlePage")
    content = ET.SubElement(element, "Content")

    def add(text: str, centred: bool) -> None:
        para = ET.SubElement(content, "Paragraph", Type="Action")
        if centred:
            para.set("Alignment", "Center")
        ET.SubElement(para, "Text").text = text

    centred = [title, "", *credit, *authors,
               *([""] + lines["Source"] if "Source" in lines else [])]
    below = [value if key in ("Draft date", "Contact") else f"{key}: {value}"
             for key, values in lines.items() if key not in _CENTRED for value in values]
    # Empty lines place them as Final Draft does: the title a third of the way down the
    # page, the rest at its foot (55 lines a page; readers skip empty paragraphs).
    for text in [*[""] * _TITLE_LINE, *centred]:
        add(text, True)
    for text in [*[""] * max(1, _PAGE_LINES - _TITLE_LINE - len(centred) - len(below)),
                 *below]:
        add(text, False)
    return element


async def write_fdx(job: ExportJob) -> None:
    text = job.run.script.screenplay if job.run.script else ""
    data = await in_thread(job, to_fdx, text, job.title)
    await in_thread(job, job.temp.write_bytes, data)
