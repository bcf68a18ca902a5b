"""The script and the scene list of a run, as readable pages.

The script is Fountain text (fountain.io); it is shown typeset the way a
screenplay reads: scene headings, action, character cues with their dialogue
in a narrower column, transitions to the right. Conversion is a small pure
function; anything it does not recognise is shown as action, so nothing is
ever lost.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QTextBrowser, QWidget

from app.core.models import Scene, Shot, ShotStatus

_HEADING = re.compile(r"^(?:INT|EXT|EST|INT\./EXT|INT/EXT|I/E)[. ]", re.IGNORECASE)
_TITLE_KEY = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*(.*)$")
_CUE = re.compile(r"^[^a-z]*[A-Z][^a-z]*$")
_SCENE_NUMBER = re.compile(r"\s*#([\w.-]+)#\s*$")


def fountain_html(text: str) -> str:
    """HTML for a Fountain screenplay (title page, headings, action, dialogue, transitions)."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip("\n"))
    out: list[str] = []
    if blocks and _is_title_page(blocks[0]):
        out.append(_title_page(blocks.pop(0)))
    for block in blocks:
        lines = [line.rstrip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        first = lines[0].strip()
        if first.startswith("[[") or first.startswith("/*") or first.startswith("="):
            continue  # notes, boneyard, synopses are not printed
        if first.startswith("#"):
            continue  # sections are not printed
        if len(lines) == 1 and (_HEADING.match(first) or (first.startswith(".")
                                                          and not first.startswith(".."))):
            heading = first.lstrip(".")
            number = _SCENE_NUMBER.search(heading)
            if number:
                heading = heading[:number.start()]
            label = f"{_esc(number.group(1))}&nbsp;&nbsp;&nbsp;" if number else ""
            out.append(f"<p><b>{label}{_esc(heading)}</b></p>")
        elif len(lines) == 1 and first.endswith("TO:") and first.upper() == first:
            out.append(f'<p align="right">{_esc(first)}</p>')
        elif first.startswith(">") and first.endswith("<"):
            out.append(f'<p align="center">{_esc(first[1:-1].strip())}</p>')
        elif len(lines) > 1 and _CUE.match(first) and not first.startswith("!"):
            out.append(_dialogue(lines))
        else:
            body = "<br>".join(_esc(line.lstrip("!")) for line in lines)
            out.append(f"<p>{body}</p>")
    return "\n".join(out)


def _is_title_page(block: str) -> bool:
    first = block.split("\n", 1)[0]
    return bool(_TITLE_KEY.match(first)) and not _HEADING.match(first)


def _title_page(block: str) -> str:
    rows = []
    for line in block.split("\n"):
        match = _TITLE_KEY.match(line.strip())
        if match:
            key, value = match.groups()
            if key.lower() == "title":
                rows.append(f'<h2 align="center">{_esc(value)}</h2>')
            elif value:
                rows.append(f'<p align="center">{_esc(value)}</p>')
        elif line.strip():
            rows.append(f'<p align="center">{_esc(line.strip())}</p>')
    return "\n".join(rows) + "<hr>"


def _dialogue(lines: list[str]) -> str:
    cue, *speech = lines
    parts = [f'<p style="margin-left:30%; margin-bottom:0">{_esc(cue.lstrip("@"))}</p>']
    for line in speech:
        stripped = line.strip()
        indent = "38%" if stripped.startswith("(") else "18%"
        parts.append(f'<p style="margin-left:{indent}; margin-right:18%; margin-top:0;'
                     f' margin-bottom:0">{_esc(stripped)}</p>')
    return "\n".join(parts) + "<p></p>"


def scenes_html(scenes: Iterable[Scene], shots: Iterable[Shot]) -> str:
    by_scene: dict[int, list[Shot]] = {}
    for shot in shots:
        by_scene.setdefault(shot.scene, []).append(shot)
    out = []
    for scene in scenes:
        mine = by_scene.get(scene.index, [])
        done = sum(1 for s in mine if s.status is ShotStatus.DONE)
        failed = sum(1 for s in mine if s.status is ShotStatus.FAILED)
        translate = QCoreApplication.translate
        counts = (translate("ScriptView", "1 shot") if len(mine) == 1 else
                  translate("ScriptView", "%1 shots").replace("%1", str(len(mine))))
        if mine:
            counts += translate("ScriptView", ", %1 done").replace("%1", str(done))
            if failed:
                counts += translate("ScriptView", ", %1 failed").replace("%1", str(failed))
        cast = ", ".join(scene.characters)
        out.append(
            f'<p><b>{scene.index}. {_esc(scene.heading)}</b><br>'
            f'<span style="color:gray">{_esc(counts)}{" · " + _esc(cast) if cast else ""}'
            f'</span><br>{_esc(scene.summary)}</p>')
    return "\n".join(out)


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


class ScriptView(QTextBrowser):
    """A read-only page (in a screenplay font for scripts); an empty hint until there is text."""

    def __init__(self, empty_text: str, *, screenplay: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scriptView")
        self.setOpenLinks(False)
        self.empty_text = empty_text
        if screenplay:
            font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
            font.setPointSizeF(max(font.pointSizeF(), 10.5))
            self.document().setDefaultFont(font)
        self.document().setDocumentMargin(24)
        self.page_width = 760 if screenplay else 900  # a readable column, centred
        self.show_html("")

    def resizeEvent(self, event) -> None:
        side = max(0, (self.width() - self.page_width) // 2)
        self.setViewportMargins(side, 0, side, 0)
        super().resizeEvent(event)

    def show_html(self, body: str) -> None:
        if not body:
            body = f'<p style="color:gray">{_esc(self.empty_text)}</p>'
        self.setHtml(body)
