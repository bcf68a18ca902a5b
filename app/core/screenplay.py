"""Fountain screenplays read to the spec (fountain.io/syntax), for the writers.

The parsing is screenplain's (MIT; chosen over fountain-py: same headings on the
public scripts we tried, a quarter of the code, no dependency beyond reportlab,
and it writes FDX and screenplay PDFs too). This module fills its gaps, each
with a test in ``tests/core/test_screenplay.py``:

- notes ``[[...]]`` anywhere (inline, whole lines, spanning blank lines) and
  nested boneyard ``/* /* */ */`` are removed before parsing, so nothing of
  them reaches a scene, a cue or a title;
- a ``===`` page break directly before a heading no longer swallows it;
- ``I./E.`` and lower-case headings are headings; two slug lines with no blank
  line between them are action (as in the reference parser);
- lyrics ``~``, and section ``#`` / synopsis ``=`` lines mixed into action, are
  told apart; a cue that ends in a colon (``FADE IN:``) is not a person;
- every text handed on is plain: emphasis and escapes are stripped (screenplain
  keeps them in title-page values).

The screenplay's own text is never rewritten: callers keep the author's file.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from screenplain.parsers import fountain as _fountain
from screenplain.richstring import parse_emphasis
from screenplain.types import (
    Action,
    Dialog,
    DualDialog,
    PageBreak,
    Section,
    Slug,
    Transition,
)

HEADING = re.compile(
    r"^(?:INT\.?/EXT|INT/EXT|I\.?/E|INT|EXT|EST)[. ]", re.IGNORECASE)
_FORCED_HEADING = re.compile(r"^\.(?=[^.\s])")
_SCENE_NUMBER = re.compile(r"\s*#([\w.\-]+)#\s*$")
_PAGE_BREAK = re.compile(r"^[ \t]*={3,}[ \t]*$", re.MULTILINE)
_NOTE_LINE = re.compile(r"^[ \t]*\[\[.*?\]\][ \t]*(?:\n|$)", re.MULTILINE | re.DOTALL)
_NOTE = re.compile(r"\[\[.*?\]\]", re.DOTALL)
_SECTION_LINE = re.compile(r"^\s*(#{1,6})\s*([^#].*)$")
_TITLE_KEY = re.compile(r"^[A-Za-z][\w ]*:")
_EXTENSION = re.compile(r"\(([^)]*)\)")
_SPACES = re.compile(r"[ \t]{2,}")
_ENDINGS = frozenset({"THE END", "END", "FIN", "FADE OUT.", "FADE OUT"})
# An all-caps line on its own that ends in "TO:" (trailing spaces too), or a classic
# opening or closing: a transition, never a beat to draw.
_TRANSITION = re.compile(
    r"^(?=[^a-z]*$)(?:.*\bTO:|(?:FADE|IRIS|WIPE|SMASH CUT|CUT|DISSOLVE)\b.*(?::|\.)"
    r"|FADE (?:OUT|IN)|FADE TO BLACK)$")
# A speaker's name never ends like a direction; these all-caps lines are directions.
DIRECTIONS = frozenset("""OPEN SET POSE HENCE WELL FADE CUT DISSOLVE SMASH MATCH SUPER TITLE
    TITLES INSERT BACK END MONTAGE SERIES INTERCUT CONTINUOUS LATER CLOSE ANGLE POV FLASHBACK
    OVER BLACK""".split())


@dataclass
class Speech:
    character: str
    """The name as the cue writes it, extensions and markers removed: ``WILL``."""
    extensions: list[str] = field(default_factory=list)
    """``["V.O.", "CONT'D"]`` for ``WILL (V.O.) (CONT'D)``."""
    lines: list[str] = field(default_factory=list)
    parentheticals: list[str] = field(default_factory=list)
    dual: bool = False


@dataclass
class SceneText:
    heading: str
    number: str | None = None
    action: list[str] = field(default_factory=list)
    """Paragraphs of action (centered text and lyrics too), plain text."""
    speeches: list[Speech] = field(default_factory=list)
    transitions: list[str] = field(default_factory=list)
    synopsis: str | None = None
    section: str | None = None
    """The innermost section this scene sits in (structure, never prompt text)."""


@dataclass
class Screenplay:
    title_page: dict[str, list[str]]
    """Every key as written (``Title``, ``Draft date``, custom ones kept), plain lines."""
    scenes: list[SceneText]
    before: list[SceneText]
    """What comes before the first heading (``FADE IN:``, an opening image), one block
    per section: a Fountain outline without headings is all blocks."""
    sections: list[tuple[int, str, str | None]] = field(default_factory=list)
    """``(level, text, synopsis)`` in order."""

    @property
    def title(self) -> str | None:
        lines = self.title_page.get("Title")
        text = " ".join(ln for ln in lines or [] if ln)
        return text or None

    @property
    def has_story(self) -> bool:
        """Any action, dialogue or scene at all (not only a title page, sections, notes)."""
        return bool(self.scenes) or any(b.action or b.speeches for b in self.before)

    @property
    def cast(self) -> list[str]:
        """Every speaking character, upper case, in order of first cue."""
        names = [s.character.upper() for sc in [*self.before, *self.scenes]
                 for s in sc.speeches]
        return list(dict.fromkeys(names))


def plain(text: str) -> str:
    """Fountain emphasis and escapes removed: ``_**BRICK**_ \\*rain\\*`` -> ``BRICK rain``.
    An escaped ``*`` or ``_`` is a mark the author did not mean as emphasis: it draws
    nothing, so it goes too."""
    if "*" in text or "_" in text or "\\" in text:  # else nothing to strip: the quick way
        text = str(parse_emphasis(re.sub(r"\\[*_]", "", text)))
    return _SPACES.sub(" ", text).strip()


def strip_comments(text: str) -> str:
    """The text without boneyard (nested too) and notes; lines kept otherwise."""
    text = _strip_boneyard(text)
    text = _NOTE_LINE.sub("", text)
    return _NOTE.sub("", text)


def looks_like_fountain(text: str) -> bool:
    """A heading with a blank line before it, or a title page that opens the file."""
    clean = strip_comments(text).lstrip("\n")
    lines = clean.splitlines()
    if lines and re.match(r"^(Title|Credit|Author|Authors|Source|Draft date)\s*:", lines[0],
                          re.IGNORECASE):
        return True
    return any(
        _is_heading_text(line.strip()) and line.strip() == line.strip().upper()
        and (n == 0 or not lines[n - 1].strip())
        for n, line in enumerate(lines)
    )


@functools.lru_cache(maxsize=4)
def parse(text: str) -> Screenplay:
    """Read a Fountain screenplay. Never raises on odd input: what is not recognised
    is action, as the spec says. The result is shared between callers (a feature is
    read once for validation and once for each writer stage): treat it as read-only."""
    return _gather(*_read(text))


def _read(text: str) -> tuple[dict[str, list[str]], list]:
    """The title page and screenplain's paragraphs, notes and boneyard removed."""
    clean = strip_comments(text.replace("\r\n", "\n").replace("\r", "\n")).lstrip("\n")
    clean = _PAGE_BREAK.sub("\n===\n", clean)
    lines = clean.split("\n")
    title_lines: list[str] = []
    if lines and _TITLE_KEY.match(lines[0]) and not HEADING.match(lines[0]):
        while lines and lines[0].strip():
            title_lines.append(lines.pop(0))
    title_page = _title_page(title_lines)
    if title_page is None:
        lines = title_lines + lines
        title_page = {}
    paragraphs = _fountain.parse_body(_fountain._preprocess_line(ln) for ln in lines)
    return title_page, paragraphs


def _title_page(lines: list[str]) -> dict[str, list[str]] | None:
    """``Key: value`` lines in any order, a value on the key's line or on indented lines
    after it (any indent: screenplain wants three spaces or a tab). Keys are
    capitalised as screenplain does (``Draft date``); unknown keys are kept."""
    page: dict[str, list[str]] = {}
    key = None
    for line in lines:
        if line[:1] in (" ", "\t") and key is not None:
            value = plain(line)
            if value:
                page[key].append(value)
            continue
        m = re.match(r"^([^:]+):\s*(.*)$", line)
        if not m:
            return None  # not a title page after all: the lines are the script's
        key = m.group(1).strip().capitalize()
        page.setdefault(key, [])
        if plain(m.group(2)):
            page[key].append(plain(m.group(2)))
    if not any(page.values()):
        return None  # "FADE IN:" alone opens a script; it is not a title page
    return page


_BONEYARD_MARK = re.compile(r"/\*|\*/")


def _strip_boneyard(text: str) -> str:
    out: list[str] = []
    depth, start = 0, 0
    for m in _BONEYARD_MARK.finditer(text):
        if m.group() == "/*":
            if depth == 0:
                out.append(text[start:m.start()])
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                start = m.end()
    if depth:  # never closed: not a boneyard after all, keep the text as written
        return text
    out.append(text[start:])
    return "".join(out)


def _is_heading_text(line: str) -> bool:
    return bool(HEADING.match(line))


def _split_cue(cue: str) -> tuple[str, list[str]]:
    cue = cue.strip().removesuffix("^").strip()
    extensions = [e.strip() for e in _EXTENSION.findall(cue)]
    name = plain(_EXTENSION.sub(" ", cue).lstrip("@"))
    return name, extensions


def _is_direction(name: str) -> bool:
    words = name.upper().replace(":", " ").split()
    return name.endswith(":") or not words or words[0] in DIRECTIONS


def _gather(title_page: dict[str, list[str]], paragraphs: list) -> Screenplay:
    play = Screenplay(title_page=title_page, scenes=[], before=[SceneText(heading="")])
    section: str | None = None

    def current() -> SceneText:
        return play.scenes[-1] if play.scenes else play.before[-1]

    def enter(level: int, text: str, synopsis: str | None = None) -> None:
        nonlocal section
        section = text
        play.sections.append((level, text, synopsis))
        if not play.scenes:
            play.before.append(SceneText(heading="", section=text))

    def new_scene(line: str, number: str | None = None) -> None:
        m = _SCENE_NUMBER.search(line)
        if m:
            number, line = m.group(1), line[: m.start()]
        play.scenes.append(SceneText(heading=plain(line).upper(), number=number,
                                     section=section))

    def action(lines: list[str]) -> None:
        text: list[str] = []
        for raw in lines:
            line = raw.strip()
            m = _SECTION_LINE.match(line)
            if m:
                enter(len(m.group(1)), plain(m.group(2)))
                continue
            if line.startswith("=") and not line.startswith("==="):
                continue  # a synopsis: structure, not story
            text.append(plain(line.lstrip("~")))
        paragraph = " ".join(t for t in text if t)
        if paragraph:
            current().action.append(paragraph)

    def speech(d: Dialog, dual: bool = False) -> None:
        name, extensions = _split_cue(str(d.character))
        if _is_heading_text(name) or _is_direction(name):
            action([str(d.character), *(str(text) for _, text in d.blocks)])
            return
        s = Speech(character=name, extensions=extensions, dual=dual)
        for is_paren, text in d.blocks:
            words = plain(str(text))
            if not words:
                continue
            (s.parentheticals if is_paren else s.lines).append(words)
        current().speeches.append(s)

    for p in paragraphs:
        if isinstance(p, Slug):
            number = str(p.scene_number) if p.scene_number else None
            new_scene(str(p.line), number)
            if p.synopsis:
                play.scenes[-1].synopsis = plain(p.synopsis)
        elif isinstance(p, Section):
            enter(p.level, plain(str(p.text)), plain(p.synopsis) if p.synopsis else None)
        elif isinstance(p, Action):
            lines = [str(ln) for ln in p.lines]
            one = lines[0].strip() if len(lines) == 1 and not p.centered else ""
            if p.centered and all(plain(ln).upper() in _ENDINGS for ln in lines):
                current().transitions.append(plain(lines[0]))  # > THE END <
            elif _is_heading_text(one):
                new_scene(one)  # I./E. and friends, which screenplain misses
            elif _TRANSITION.match(plain(one)):
                current().transitions.append(plain(one))  # "CUT TO:  ", "FADE IN:"
            else:
                action(lines)
        elif isinstance(p, DualDialog):
            speech(p.left, dual=True)
            speech(p.right, dual=True)
        elif isinstance(p, Dialog):
            speech(p)
        elif isinstance(p, Transition):
            current().transitions.append(plain(str(p.line)))
        elif isinstance(p, PageBreak):
            continue
    return play


class Lyrics(Action):
    """Lines sung (``~``): laid out as action, written to FDX as ``Lyrics``."""


def layout(text: str) -> tuple[dict[str, list[str]], list]:
    """The screenplay as screenplain's paragraphs, for writing it out (FDX, screenplay PDF),
    with the gaps ``parse`` fills filled the same way: headings screenplain misses
    (``I./E.``, lower case) are ``Slug``s, in capitals like every heading; a lone all-caps
    ``CUT TO:`` is a ``Transition``; a "cue" that is a direction is action; section and
    synopsis lines are left out (structure, not page); ``~`` lines are ``Lyrics``.
    Emphasis is kept (as screenplain's rich strings); notes and boneyard are gone."""
    title_page, paragraphs = _read(text)
    out: list = []
    for p in paragraphs:
        if isinstance(p, Slug):
            out.append(_slug(str(p.line), p.scene_number))
        elif isinstance(p, Section):
            continue
        elif isinstance(p, Action):
            lines = [ln for ln in p.lines if not _structure_line(str(ln).strip())]
            one = str(lines[0]).strip() if len(lines) == 1 and not p.centered else ""
            if not lines:
                continue
            if _is_heading_text(one):
                out.append(_slug(one, None))
            elif _TRANSITION.match(plain(one)):
                out.append(Transition(parse_emphasis(one.strip())))
            elif not p.centered and all(str(ln).startswith("~") for ln in lines):
                out.append(Lyrics([parse_emphasis(str(ln)[1:].strip()) for ln in lines]))
            else:
                out.append(Action([parse_emphasis(str(ln)[1:]) if str(ln).startswith("~")
                                   else ln for ln in lines], centered=p.centered))
        elif isinstance(p, Dialog):
            name, _ = _split_cue(str(p.character))
            if _is_heading_text(name) or _is_direction(name):
                out.append(Action([p.character, *(line for _, line in p.blocks)]))
            else:
                out.append(p)
        else:  # DualDialog, Transition, PageBreak
            out.append(p)
    return title_page, out


def _structure_line(line: str) -> bool:
    return bool(_SECTION_LINE.match(line)) or (line.startswith("=")
                                               and not line.startswith("==="))


def _slug(line: str, number: object) -> Slug:
    m = _SCENE_NUMBER.search(line)
    if m:
        number, line = m.group(1), line[: m.start()]
    if number is not None and not hasattr(number, "to_html"):
        number = parse_emphasis(str(number))
    return Slug(parse_emphasis(line.strip().upper()), number or None)
