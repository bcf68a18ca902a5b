"""Reading and validating ideas, typed or from files.

Every refusal is an ``IdeaError`` with one line that says what is wrong and what
would be accepted. Nothing here writes anything.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from app.core.errors import IdeaError

MAX_IDEA_BYTES = 1_000_000
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".fountain")
SUFFIXES = (*TEXT_SUFFIXES, ".json", ".fdx")

_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)
_SETEXT_HEADING = re.compile(r"^[^\n]*\w[^\n]*\n(?:={3,}|-{3,})[ \t]*$", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class IdeaKind(StrEnum):
    PROSE = "prose"
    MARKDOWN = "markdown"
    FOUNTAIN = "fountain"


@dataclass(frozen=True, slots=True)
class Idea:
    text: str
    kind: IdeaKind = IdeaKind.PROSE
    source: str | None = None
    """Where it came from, for messages and history: a file name, or None when typed."""

    @property
    def label(self) -> str:
        return self.source or "typed idea"


def detect_kind(text: str, suffix: str = "") -> IdeaKind:
    from app.core.screenplay import looks_like_fountain

    if suffix == ".fountain" or looks_like_fountain(text):
        return IdeaKind.FOUNTAIN
    if suffix in (".md", ".markdown") or _MARKDOWN_HEADING.search(text) \
            or _SETEXT_HEADING.search(text):
        return IdeaKind.MARKDOWN
    return IdeaKind.PROSE


def from_text(text: str, *, source: str | None = None, suffix: str = "") -> Idea:
    """Validate a typed or decoded idea."""
    where = source or "the idea"
    if not isinstance(text, str):
        raise IdeaError(f"{where}: expected text, got {type(text).__name__}")
    if not text.strip():
        raise IdeaError(f"{where} is empty: write a sentence or two about the story")
    size = len(text.encode("utf-8"))
    if size > MAX_IDEA_BYTES:
        raise IdeaError(f"{where} is {_megabytes(size)}; an idea can be at most 1 MB of text")
    controls = len(_CONTROL.findall(text))
    if controls > max(2, len(text) // 100):
        raise IdeaError(f"{where} looks like binary content, not text")
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    kind = detect_kind(text, suffix)
    if kind is IdeaKind.FOUNTAIN:
        from app.core.screenplay import parse

        if not parse(text).has_story:
            raise IdeaError(f"{where} holds no scene, action or dialogue (only a title page, "
                            "sections, synopses or notes): write what happens")
    return Idea(text=text, kind=kind, source=source)


def read(path: str | Path) -> list[Idea]:
    """Read one idea file (or a ``.json`` batch of ideas). Raises ``IdeaError``."""
    path = Path(path)
    name = path.name or str(path)
    try:
        if path.is_dir():
            raise IdeaError(f"{name} is a folder, not an idea file")
        if not path.exists() and not path.is_symlink():
            raise IdeaError(f"{name}: no such file")
        suffix = path.suffix.lower()
        if suffix not in SUFFIXES:
            kind = f"'{path.suffix}'" if path.suffix else "without an extension"
            raise IdeaError(
                f"{name}: unsupported file type {kind}; use .txt, .md, .fountain, .fdx or a "
                ".json batch"
            )
        size = path.stat().st_size
        if size > MAX_IDEA_BYTES:
            raise IdeaError(f"{name} is {_megabytes(size)}; an idea file can be at most 1 MB")
        data = path.read_bytes()
    except IdeaError:
        raise
    except PermissionError:
        raise IdeaError(f"{name} cannot be read: permission denied") from None
    except OSError as exc:
        raise IdeaError(f"{name} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_IDEA_BYTES:  # grew while we looked
        raise IdeaError(f"{name} is {_megabytes(len(data))}; an idea file can be at most 1 MB")
    if suffix == ".fdx":  # Final Draft: XML, read safely into Fountain
        from app.core.screenplay_fdx import to_fountain

        return [from_text(to_fountain(data, name), source=name, suffix=".fountain")]
    text = decode(data, name)
    if suffix == ".json":
        return _read_batch(text, name)
    return [from_text(text, source=name, suffix=suffix)]


def read_many(paths: list[str | Path]) -> list[Idea]:
    """Read every file first, so one bad file refuses the whole batch before any work."""
    ideas: list[Idea] = []
    for p in paths:
        ideas.extend(read(p))
    return ideas


def decode(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM) or UTF-16 with a BOM; refuse anything else."""
    if not data.strip():
        raise IdeaError(f"{name} is empty: write a sentence or two about the story")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise IdeaError(f"{name} has a UTF-16 mark but is not valid UTF-16 text") from None
    if b"\x00" in data:
        raise IdeaError(f"{name} looks like binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IdeaError(
            f"{name} is not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8, or UTF-16 with a byte-order mark"
        ) from None


def _read_batch(text: str, name: str) -> list[Idea]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IdeaError(
            f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if isinstance(doc, dict) and "ideas" in doc:
        doc = doc["ideas"]
    if not isinstance(doc, list):
        raise IdeaError(f'{name}: a batch must be a JSON list of ideas, or {{"ideas": [...]}}')
    if not doc:
        raise IdeaError(f"{name}: the batch holds no ideas")
    ideas = []
    for n, item in enumerate(doc, 1):
        if isinstance(item, dict):
            item = item.get("idea", item.get("text"))
        if not isinstance(item, str):
            raise IdeaError(
                f'{name}: idea {n} must be a string or an object with an "idea" string'
            )
        ideas.append(from_text(item, source=f"{name} #{n}"))
    return ideas


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
