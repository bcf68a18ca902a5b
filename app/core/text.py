"""Untrusted text made safe to show: titles, ideas, errors from a server, anything
stored or remote that reaches a terminal, a file name, a caption or ffmpeg metadata.

Control characters are removed: C0 (but newline and tab, when kept), DEL, C1 (the
8-bit CSI among them) and the bidirectional overrides that reorder what a reader sees.
An escape sequence then loses its ESC and shows as harmless text; a NUL cannot reach
a C string. JSON output needs none of this: ``json.dumps`` escapes them already.
"""

from __future__ import annotations

import logging
import re

_CONTROLS = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_CONTROLS}]")
_UNSAFE_OR_BREAK = re.compile(f"[{_CONTROLS}\t\n]")
_SPACES = re.compile(r"[ \t\n]+")


def printable(text: object, *, one_line: bool = False) -> str:
    """``text`` without control characters. Newlines and tabs stay, unless ``one_line``,
    which also folds every run of white space into one space (for titles and labels)."""
    text = "" if text is None else str(text)
    if not one_line:
        return _UNSAFE.sub("", text)
    return _SPACES.sub(" ", _UNSAFE_OR_BREAK.sub(lambda m: " " if m.group() in "\t\n" else "",
                                                 text)).strip()


def has_controls(text: str) -> bool:
    return bool(_UNSAFE.search(text))


class PrintableFormatter(logging.Formatter):
    """A log formatter for terminals: the record, then ``printable`` (newlines kept, so a
    traceback still reads as one). A log line quoting a title cannot steer the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))
