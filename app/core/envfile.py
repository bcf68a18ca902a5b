"""Reading and changing the ``.env`` file in ``STORYREEL_HOME`` (the settings dialog's file).

A change touches only the variables it names: every other line (comments, blank
lines, variables this app does not know, lines python-dotenv cannot parse) is
kept exactly as it was. Values are written single-quoted with python-dotenv's
own escapes, so ``dotenv_values`` (what ``settings.load_settings`` reads) gives
back exactly the value written. The file is replaced atomically (a temporary
file in the same folder, flushed to disk, then renamed over the old one) and is
readable by its owner only, since it may hold secrets.

Errors are ``ConfigError``s naming the variable, never its value.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from app.core.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LEADING_SPACE = re.compile(r"^\s*")


def read_values(path: Path) -> dict[str, str]:
    """The variables set in the file, as written (no ``${VAR}`` expansion); {} if no file."""
    path = Path(path)
    try:
        if not path.is_file():
            return {}
        values = dotenv_values(path, interpolate=False)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    return {k: v for k, v in values.items() if v is not None}


def quote(name: str, value: str) -> str:
    """``value`` as a single-quoted dotenv value that reads back unchanged."""
    if any(c in value for c in "\n\r\x00"):
        raise ConfigError(f"{name} must be one line of text")
    if "${" in value:  # python-dotenv would expand it, whatever the quotes
        raise ConfigError(f"{name} cannot contain '${{': the .env reader would expand it")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(text: str, changes: Mapping[str, str | None]) -> str:
    """``text`` (a .env file) with ``changes`` applied: a value sets, None or "" removes.

    The first line of a variable is rewritten in place; later duplicates of it
    are dropped (they would win otherwise); new variables are appended.
    """
    for name in changes:
        if not _NAME.match(name):
            raise ConfigError(f"{name!r} is not a valid variable name")
    lines = {name: f"{name}={quote(name, value)}\n"
             for name, value in changes.items() if value}
    out: list[str] = []
    done: set[str] = set()
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original.string
        name = binding.key
        if binding.error or name is None or name not in changes:
            out.append(original)
            continue
        leading = _LEADING_SPACE.match(original).group()  # blank lines before the variable
        if "\n" not in leading:
            leading = ""
        else:
            leading = leading[: leading.rindex("\n") + 1]
        if name in done or name not in lines:
            out.append(leading)
        else:
            out.append(leading + lines[name])
        done.add(name)
    result = "".join(out)
    new = [lines[name] for name in changes if name in lines and name not in done]
    if new:
        if result and not result.endswith("\n"):
            result += "\n"
        result += "".join(new)
    return result


def update(path: Path, changes: Mapping[str, str | None]) -> None:
    """Apply ``changes`` to the file at ``path`` (created if missing), atomically."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; fix or remove it first") from None
    write_atomic(path, render(text, changes))


def write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o600)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
