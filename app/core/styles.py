"""Style presets: named looks for a whole storyboard, kept as data in ``resources/styles``.

Each preset is one JSON file: ``id``, ``name``, ``aliases``, ``description``,
``prompt`` (the style line every shot prompt ends with) and ``negative``
(terms added to the negative prompt). Adding a look is adding a file.

Choosing a style (``resolve_style``):

- nothing given: the default preset, ``pencil-sketch``;
- a preset's id, name or alias, in any case, with spaces, hyphens or
  underscores alike (``Comic Ink``, ``comic-ink``, ``watercolor``);
- anything else of three words or more is a custom style line, used as it is
  (``linocut print, bold black shapes``), with no negative additions;
- anything else shorter is taken for a mistyped preset name and refused, with
  the presets listed and the nearest one suggested. So a typo never silently
  becomes the style of a whole paid run.

``get_style`` is the strict lookup: presets only.

Presets are found in ``app/resources/styles`` (package data in an installed
wheel), in a PyInstaller bundle's ``resources/styles``, or in the source
checkout's ``resources/styles``, the first that exists.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from app.core.errors import StoryreelError

DEFAULT_STYLE_ID = "pencil-sketch"
CUSTOM_MIN_WORDS = 3


class StyleError(StoryreelError):
    """A style name is unknown, or a preset file is broken. One line, naming the presets."""


@dataclass(frozen=True, slots=True)
class Style:
    id: str
    name: str
    prompt: str  # the style line carried into every shot prompt
    negative: str = ""  # added to the negative prompt
    description: str = ""
    aliases: tuple[str, ...] = ()
    custom: bool = False

    def negative_prompt(self, base: str) -> str:
        """``base`` with this style's negative terms added, each term once."""
        return merge_terms(base, self.negative)


def merge_terms(*parts: str) -> str:
    """Comma-separated terms of ``parts`` in order, each once (ignoring case)."""
    seen: set[str] = set()
    terms = []
    for part in parts:
        for term in (t.strip() for t in part.split(",")):
            if term and term.casefold() not in seen:
                seen.add(term.casefold())
                terms.append(term)
    return ", ".join(terms)


def _key(text: str) -> str:
    return " ".join(re.split(r"[\s_\-]+", text.strip().casefold())).strip()


# Finding and reading the presets.


def builtin_styles_dir() -> Traversable | None:
    """The folder of the presets that ship with Storyreel, wherever it was installed."""
    candidates: list[Traversable] = []
    try:
        candidates.append(resources.files("app") / "resources" / "styles")
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - app is always importable
        pass
    bundle = getattr(sys, "_MEIPASS", None)  # a PyInstaller build
    if bundle:
        candidates.append(Path(bundle) / "resources" / "styles")
    candidates.append(Path(__file__).resolve().parents[2] / "resources" / "styles")
    return next((c for c in candidates if c.is_dir()), None)


def load_styles(folder: Traversable | None = None) -> dict[str, Style]:
    """Every preset in ``folder`` (the built-in folder by default), by id, in name order."""
    if folder is None:
        return _builtin()
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")),
                   key=lambda f: f.name)
    styles = [_parse(f.name, f.read_text(encoding="utf-8")) for f in files]
    _check_unique(styles)
    return {s.id: s for s in sorted(styles, key=lambda s: s.name.casefold())}


@cache
def _builtin() -> dict[str, Style]:
    folder = builtin_styles_dir()
    if folder is None:
        raise StyleError("the style presets are missing from this installation "
                         "(resources/styles); reinstall Storyreel")
    return load_styles(folder)


def _parse(filename: str, text: str) -> Style:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StyleError(f"style preset {filename} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StyleError(f"style preset {filename} must hold a JSON object")
    missing = [k for k in ("id", "name", "prompt") if not isinstance(data.get(k), str)
               or not data[k].strip()]
    if missing:
        raise StyleError(f"style preset {filename} lacks {', '.join(missing)}")
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise StyleError(f"style preset {filename}: aliases must be a list of strings")
    return Style(id=data["id"].strip(), name=data["name"].strip(),
                 prompt=" ".join(data["prompt"].split()),
                 negative=merge_terms(str(data.get("negative", ""))),
                 description=str(data.get("description", "")).strip(),
                 aliases=tuple(a.strip() for a in aliases if a.strip()))


def _check_unique(styles: Iterable[Style]) -> None:
    owner: dict[str, str] = {}
    for style in styles:
        for word in {_key(style.id), _key(style.name), *map(_key, style.aliases)}:
            if owner.setdefault(word, style.id) != style.id:
                raise StyleError(f"style name {word!r} is used by both {owner[word]!r} and "
                                 f"{style.id!r}")


# Choosing a style.


def style_names(styles: dict[str, Style] | None = None) -> list[str]:
    """The preset names, for menus and messages."""
    return [s.name for s in (styles or load_styles()).values()]


def get_style(name: str, styles: dict[str, Style] | None = None) -> Style:
    """The preset called ``name`` (id, name or alias; case, spaces and hyphens ignored)."""
    styles = styles or load_styles()
    wanted = _key(name)
    for style in styles.values():
        if wanted in {_key(style.id), _key(style.name), *map(_key, style.aliases)}:
            return style
    names = style_names(styles)
    near = difflib.get_close_matches(wanted, [_key(n) for n in names], n=1, cutoff=0.6)
    hint = f"did you mean {next(n for n in names if _key(n) == near[0])!r}? " if near else ""
    raise StyleError(f"unknown style {name.strip()!r}; {hint}presets: {', '.join(names)} "
                     f"(or give a style line of {CUSTOM_MIN_WORDS} words or more)")


def resolve_style(value: str | None, styles: dict[str, Style] | None = None) -> Style:
    """The style for ``value``: the default preset, a preset, or a custom line (see above)."""
    styles = styles or load_styles()
    if value is None or not value.strip():
        return styles.get(DEFAULT_STYLE_ID) or next(iter(styles.values()))
    try:
        return get_style(value, styles)
    except StyleError:
        line = " ".join(value.split())
        if len(re.findall(r"[^\W_]+", line)) < CUSTOM_MIN_WORDS:
            raise
        return Style(id="custom", name="Custom", prompt=line, custom=True)
