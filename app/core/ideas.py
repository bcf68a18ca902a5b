"""Reading and validating ideas, typed or from files.

Every refusal is an ``IdeaError`` with one line that says what is wrong and what
would be accepted. Nothing here writes anything.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
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
    """Read one idea file (or a ``.json`` batch of ideas). Raises ``IdeaError``.

    Only regular files are read, also behind a symbolic link: a folder, a named pipe, a
    device or a socket is refused with what it is. The file is opened non-blocking (a
    pipe swapped in after the check cannot hang the open), checked again on the open
    descriptor, and read up to the size limit and one byte more, whatever ``stat`` said.
    """
    path = Path(path)
    name = path.name or str(path)
    try:
        data, suffix = _read_regular(path, name)
    except IdeaError:
        raise
    except PermissionError:
        raise IdeaError(f"{name} cannot be read: permission denied") from None
    except OSError as exc:
        raise IdeaError(f"{name} cannot be read: {exc.strerror or exc}") from None
    if suffix == ".fdx":  # Final Draft: XML, read safely into Fountain
        from app.core.screenplay_fdx import to_fountain

        return [from_text(to_fountain(data, name), source=name, suffix=".fountain")]
    text = decode(data, name)
    if suffix == ".json":
        return _read_batch(text, name)
    return [from_text(text, source=name, suffix=suffix)]


def _read_regular(path: Path, name: str) -> tuple[bytes, str]:
    try:
        st = os.stat(path)  # follows links: the kind of what is finally there
    except FileNotFoundError:
        if path.is_symlink():
            raise IdeaError(f"{name} is a link to a file that does not exist") from None
        raise IdeaError(f"{name}: no such file") from None
    _refuse_unless_regular(st, name)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        kind = f"'{path.suffix}'" if path.suffix else "without an extension"
        raise IdeaError(
            f"{name}: unsupported file type {kind}; use .txt, .md, .fountain, .fdx or a "
            ".json batch"
        )
    if st.st_size > MAX_IDEA_BYTES:
        raise IdeaError(f"{name} is {_megabytes(st.st_size)}; an idea file can be at most 1 MB")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | \
        getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        _refuse_unless_regular(os.fstat(fd), name)  # what was opened, not what was checked
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_IDEA_BYTES:
            chunk = os.read(fd, MAX_IDEA_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_IDEA_BYTES:  # grew since stat, or stat did not tell (a /proc file)
        raise IdeaError(f"{name} is more than 1 MB; an idea file can be at most 1 MB")
    return b"".join(chunks), suffix


def _refuse_unless_regular(st: os.stat_result, name: str) -> None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IdeaError(f"{name} is a folder, not an idea file")
    if stat.S_ISFIFO(mode):
        what = "a named pipe (FIFO)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        what = "a device"
    elif stat.S_ISSOCK(mode):
        what = "a socket"
    else:
        what = "something other than a file"
    raise IdeaError(f"{name} is {what}, not an idea file: save the idea as a .txt, .md, "
                    ".fountain or .json file and give that")


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
