"""Final Draft ``.fdx`` screenplays, read into Fountain text.

An FDX file is XML: ``<FinalDraft><Content><Paragraph Type="Scene Heading|Action|
Character|Parenthetical|Dialogue|Transition|...">`` with ``<Text>`` runs, dual dialogue in
``<DualDialogue>``, the title page in ``<TitlePage>``. It comes from outside, so it is
read with defusedxml: a DTD's entities (the "billion laughs"), external entities and
external DTDs are refused, never expanded or fetched. The result is Fountain, so the
rest of the app (the writers, ``export --format fountain``) has one screenplay format.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from app.core.errors import IdeaError
from app.core.screenplay import HEADING

_SCENE_NUMBER_SAFE = re.compile(r"^[\w.\-]+$")
_TRANSITION_END = re.compile(r"TO:$")


def to_fountain(data: bytes, name: str) -> str:
    """The FDX document ``data`` as Fountain text. Raises ``IdeaError`` for a file that is
    not Final Draft XML, or that declares entities."""
    root = _parse(data, name)
    content = root.find("Content")
    if content is None:
        raise IdeaError(f"{name} is Final Draft XML without a <Content> element: no script")
    out: list[str] = _title_page(root.find("TitlePage"))
    for paragraph in content.findall("Paragraph"):
        dual = paragraph.find("DualDialogue")
        if dual is not None:
            cues = 0
            for inner in dual.findall("Paragraph"):
                cues += inner.get("Type") == "Character"
                _paragraph(inner, out, dual=cues == 2)
        else:
            _paragraph(paragraph, out)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")
    if not text.strip():
        raise IdeaError(f"{name} is a Final Draft file with no script in it")
    return text + "\n"


def _parse(data: bytes, name: str) -> Element:
    try:
        root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise IdeaError(f"{name} was refused: it declares XML entities or external "
                        f"references ({type(exc).__name__}), which a Final Draft file never "
                        "needs") from None
    except (ParseError, ValueError) as exc:
        raise IdeaError(f"{name} is not a Final Draft file: not valid XML ({exc})") from None
    if root.tag != "FinalDraft":
        raise IdeaError(f"{name} is not a Final Draft file: its XML root is <{root.tag}>, "
                        "not <FinalDraft>")
    return root


def _text(paragraph: Element) -> str:
    runs = "".join(t.text or "" for t in paragraph.iter("Text"))
    lines = [" ".join(line.split()) for line in runs.replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def _paragraph(paragraph: Element, out: list[str], *, dual: bool = False) -> None:
    kind = (paragraph.get("Type") or "Action").strip()
    text = _text(paragraph)
    if not text:
        return
    if kind == "Scene Heading":
        line = text.replace("\n", " ")
        if not HEADING.match(line):
            line = "." + line  # forced: Final Draft said it is a heading
        number = (paragraph.get("Number") or "").strip()
        if number and _SCENE_NUMBER_SAFE.match(number):
            line += f" #{number}#"
        out += ["", line, ""]
    elif kind == "Character":
        cue = text.replace("\n", " ")
        name = cue.split("(", 1)[0]
        if name != name.upper() or not re.search(r"[A-Za-z]", name):
            cue = "@" + cue  # forced: a cue Fountain would not see as one
        out += ["", cue + (" ^" if dual else "")]
    elif kind in ("Parenthetical", "Dialogue"):
        if kind == "Parenthetical" and not text.startswith("("):
            text = f"({text})"
        out.append(text)
    elif kind == "Transition":
        line = text.replace("\n", " ")
        out += ["", line if _TRANSITION_END.search(line) and line == line.upper()
                else f"> {line}", ""]
    elif kind == "Lyrics":
        out += ["", *(f"~{ln}" for ln in text.split("\n")), ""]
    else:  # Action, General, Shot, Cast List...: what happens, as action
        lines = text.split("\n")
        out += ["", *(f"!{ln}" if _fountain_would_misread(ln) else ln for ln in lines), ""]


def _fountain_would_misread(line: str) -> bool:
    """An action line that Fountain would take for a heading, a cue or a transition."""
    return bool(HEADING.match(line)) or (line == line.upper() and re.search(r"[A-Z]", line)
                                         is not None) or line.startswith(("@", "~", ">", ".",
                                                                          "#", "=", "!"))


def _title_page(page: Element | None) -> list[str]:
    """Final Draft's title page is free text: its first line is the title, a line "by" or
    "written by" is the credit and the next the author; the rest is kept as notes."""
    if page is None:
        return []
    lines = [_text(p).replace("\n", " ") for p in page.iter("Paragraph")]
    lines = [ln for ln in lines if ln]
    if not lines:
        return []
    out = [f"Title: {lines[0]}"]
    rest = lines[1:]
    for n, line in enumerate(rest):
        if re.fullmatch(r"(?:written\s+|screenplay\s+|story\s+)?by", line, re.IGNORECASE):
            out.append(f"Credit: {line}")
            if n + 1 < len(rest):
                out.append(f"Author: {rest[n + 1]}")
            rest = rest[:n] + rest[n + 2:]
            break
    if rest:
        out += ["Notes:", *(f"    {ln}" for ln in rest)]
    return [*out, ""]
