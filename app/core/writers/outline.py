"""Turn an idea (prose, a Markdown outline or a Fountain script) into an outline.

The draft writer's reading of a text: a title, a logline, a cast, and scenes,
each with a slug line, its beats (sentences of action) and its lines of
dialogue. Plain rules, no model: a structured idea is honoured scene by
scene; plain prose is split into beats grouped into three or more scenes
(``prose.py``, which also holds the rules every reading shares).
"""

from __future__ import annotations

import copy
import functools
import re

from app.core import screenplay
from app.core.ideas import Idea, IdeaKind
from app.core.writers.prose import (
    CAST_HEADING,
    LIST_ITEM,
    NOT_NAMES,
    Outline,
    SceneOutline,
    base_name,
    cast_of,
    clip,
    find_names,
    find_place,
    find_time,
    from_prose,
    interior,
    make_title,
    names_in_list,
    scenes_from_groups,
    sentences,
    strip_markup,
)

__all__ = ["Outline", "SceneOutline", "find_names", "outline", "sentences"]

_HEADING = re.compile(r"^(?:\.(?!\.)\S|(?:INT\./EXT|INT/EXT|I/E|INT|EXT|EST)[. ])", re.IGNORECASE)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(?P<text>[^\n]*\w[^\n]*)\n(?P<rule>=+|-{2,})[ \t]*$", re.MULTILINE)


def outline(idea: Idea) -> Outline:
    """The outline of an idea; a copy of it, so a caller may change what it gets."""
    return copy.deepcopy(_outline(idea.text, idea.kind))


@functools.lru_cache(maxsize=4)  # a writer's two stages read the same idea
def _outline(text: str, kind: IdeaKind) -> Outline:
    if kind is IdeaKind.FOUNTAIN:
        return _from_fountain(text)
    if kind is IdeaKind.MARKDOWN:
        return _from_markdown(text)
    return from_prose(text)


# Markdown.


def _from_markdown(text: str) -> Outline:
    sections: list[tuple[int, str, list[str]]] = []  # (level, heading, lines)
    intro: list[str] = []
    listed: list[str] = []
    for line in _atx_headings(text).splitlines():
        m = _MD_HEADING.match(line)
        if m:
            sections.append((len(m.group(1)), strip_markup(m.group(2)), []))
        elif sections:
            sections[-1][2].append(line)
        else:
            intro.append(line)
    title = None
    if sections and sum(1 for s in sections if s[0] == sections[0][0]) == 1 and len(sections) > 1:
        _, title, first_lines = sections.pop(0)  # the one top heading is the title
        intro += first_lines
    kept = []
    for section in sections:  # "## Characters" lists the cast; it is not a scene
        if CAST_HEADING.match(section[1]):
            listed += names_in_list(section[2], section=True)
        else:
            kept.append(section)
    sections = kept
    listed += names_in_list(intro)
    if not sections:
        return from_prose(_strip_md_text(text), listed=listed)
    level = min(s[0] for s in sections)
    scene_sections: list[tuple[str, list[str]]] = []
    for lvl, heading, lines in sections:
        if lvl == level or not scene_sections:
            scene_sections.append((heading, list(lines)))
        else:  # a sub-heading belongs to its scene
            scene_sections[-1][1].extend([heading + ".", *lines])
    groups = [_md_beats(lines) or [heading] for heading, lines in scene_sections]
    intro_text = " ".join(_md_beats(intro))
    all_text = "\n".join([intro_text, *(" ".join(g) for g in groups)])
    names = list(dict.fromkeys([*listed, *find_names(all_text)]))
    scenes = scenes_from_groups(groups, names, [h for h, _ in scene_sections])
    for scene, (heading, _) in zip(scenes, scene_sections, strict=True):
        if _HEADING.match(heading):  # the author wrote a slug line: keep it
            scene.heading = heading.lstrip(".").upper()
    title = strip_markup(title) if title else make_title(all_text, names)
    logline_source = sentences(intro_text) or sentences(all_text) or [title]
    return Outline(title=title, logline=clip(logline_source[0], 240),
                   cast=cast_of(all_text, names, scenes), scenes=scenes)


def _md_beats(lines: list[str]) -> list[str]:
    beats: list[str] = []
    paragraph: list[str] = []
    for line in [*lines, ""]:
        if LIST_ITEM.match(line):
            beats += sentences(" ".join(paragraph))
            paragraph = []
            beats.append(strip_markup(LIST_ITEM.sub("", line)))
        elif line.strip():
            paragraph.append(strip_markup(line.strip()))
        else:
            beats += sentences(" ".join(paragraph))
            paragraph = []
    return [b for b in beats if b]


def _atx_headings(text: str) -> str:
    """Setext headings (a line over ``===`` or ``---``) written as ATX (``#``, ``##``)."""
    def atx(m: re.Match[str]) -> str:
        line = m.group("text")
        if LIST_ITEM.match(line) or _MD_HEADING.match(line):
            return m.group(0)
        return ("# " if m.group("rule").startswith("=") else "## ") + line.strip()
    return _SETEXT.sub(atx, text)


def _strip_md_text(text: str) -> str:
    """``strip_markup`` line by line, keeping paragraphs."""
    return "\n".join(strip_markup(line) if line.strip() else "" for line in text.splitlines())


# Fountain.


def _from_fountain(text: str) -> Outline:
    play = screenplay.parse(text)
    scenes = [_scene_from_text(sc, sc.heading) for sc in play.scenes]
    if not scenes:  # no headings: the sections are the scenes, or it is prose after all
        scenes = _scenes_from_sections(play)
    clean = _fountain_words(play)
    spoken = {w for cue in play.cast for w in cue.split()}  # WILBUR of WILBUR FREELY
    cues = list(dict.fromkeys([*play.cast,
                               *(n for n in _introduced(play) if n not in spoken)]))
    if not scenes and not any(b.speeches for b in play.before):
        # a story told in action alone, without headings or sections: read as prose
        story = from_prose(_story_prose(play) or play.title or "An untitled story.",
                            titled=False)
        story.title = play.title or story.title
        story.cast = {}  # a script's people are its cues, and this one has none
        for scene in story.scenes:
            scene.characters = []
        story.screenplay = text if "Title" in play.title_page else None
        story.text = clean
        return story
    if not scenes:  # dialogue without headings: one continuous scene
        merged = screenplay.SceneText(heading="")
        for block in play.before:
            merged.action += block.action
            merged.speeches += block.speeches
        scene = _scene_from_text(merged, "")
        words = " ".join(scene.beats + [line for _, line in scene.dialogue])
        place, time = find_place(words), find_time(words) or "DAY"
        scene.heading = (f"{interior(words, place)}. {place.upper()} - {time}" if place
                         else f"INT. THE STORY'S WORLD - {time}")
        scenes = [scene]
    names: list[str] = []
    for scene in scenes:
        who = [c for c, _ in scene.dialogue]
        seen = [c for c in cues if _mentions(" ".join(scene.beats), c)]
        scene.characters = list(dict.fromkeys(seen + who))
        names += scene.characters
        if not scene.beats:
            scene.beats = [line for _, line in scene.dialogue][:1] or [scene.heading]
    names = list(dict.fromkeys(names))
    action = " ".join(" ".join(s.beats) for s in scenes)
    title = play.title or make_title(action, names)
    meta = {k.lower(): " ".join(v) for k, v in play.title_page.items()}
    first = next((b for s in scenes for b in s.beats if b != s.heading), title)
    logline = meta.get("logline") or first
    cast = {nm: "" for nm in names}
    for name in names:
        scene = next((s for s in scenes if _mentions(" ".join(s.beats), name)), None)
        if scene is not None:
            cast[name] = next((b for b in scene.beats if _mentions(b, name)), "")
    return Outline(title=title, logline=clip(logline, 240), cast=cast, scenes=scenes,
                   screenplay=text if "Title" in play.title_page else f"Title: {title}\n\n{text}",
                   text=clean)


def _scene_from_text(sc: screenplay.SceneText, heading: str) -> SceneOutline:
    beats = [b for paragraph in sc.action for b in sentences(paragraph)]
    dialogue = [(s.character.upper(), " ".join(s.lines)) for s in sc.speeches if s.lines]
    return SceneOutline(heading=heading, beats=beats, dialogue=dialogue, name=sc.section or "")


def _scenes_from_sections(play: screenplay.Screenplay) -> list[SceneOutline]:
    """A Fountain outline of sections (``#``) and synopses (``=``) with action under them:
    one scene per section that has action or dialogue, its slug line guessed as prose's."""
    blocks = [sc for sc in play.before if sc.section and (sc.action or sc.speeches)]
    if not blocks:
        return []
    names = play.cast
    # Section names are structure, never prompt text: the slug lines come from the action.
    scenes = scenes_from_groups([[b for p in sc.action for b in sentences(p)]
                                  for sc in blocks], names)
    for scene, sc in zip(scenes, blocks, strict=True):
        scene.dialogue = [(s.character.upper(), " ".join(s.lines)) for s in sc.speeches
                          if s.lines]
        scene.beats = scene.beats or [line for _, line in scene.dialogue][:1]
    return scenes


def _story_prose(play: screenplay.Screenplay) -> str:
    """A headless script's action as prose paragraphs."""
    return "\n\n".join(p for sc in play.before for p in sc.action)


# "NADIA VOSS (30s)", "BRICK BRADDOCK, retired police detective": a name in capitals
# followed by an age or a description, the way a script introduces a person.
_CAPS_RUN = re.compile(r"(?<![\w'’])([A-Z][A-Z'’-]+)(?:\s+[A-Z][A-Z'’-]+){0,2}"
                       r"(?=\s*\(\d|,\s+[a-z])")


def _introduced(play: screenplay.Screenplay) -> list[str]:
    """People who never speak but are introduced as a script introduces people, in capitals
    with an age or a description (``NADIA VOSS (30s) stands``, ``BRICK BRADDOCK, retired``)
    and named again in ordinary case (``Nadia lifts``). An acronym (NASA) or a shouted
    word (SLAMMED) is not introduced that way."""
    action = [p for sc in [*play.before, *play.scenes] for p in sc.action]
    seen = set(re.findall(r"[A-Za-z][A-Za-z'’-]*", "\n".join(action)))
    names: list[str] = []
    for paragraph in action:
        for m in _CAPS_RUN.finditer(paragraph):
            for word in m.group(0).split():  # YOUNG EDWARD: "young" is a word, Edward a name
                word = base_name(word)
                if len(word) < 3 or word.lower() in NOT_NAMES or word in screenplay.DIRECTIONS \
                        or word.lower() in seen:
                    continue
                if word.title() in seen:
                    names.append(word)
                break
    return list(dict.fromkeys(names))


def _mentions(text: str, name: str) -> bool:
    """``WILL`` or ``Will`` named in the text (never the verb ``will``)."""
    if name not in text and name.title() not in text:
        return False  # the quick answer, most of the time
    return bool(_name_pattern(name).search(text))


@functools.lru_cache(maxsize=1024)
def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{re.escape(name)}|{re.escape(name.title())})\b")


def _fountain_words(play: screenplay.Screenplay) -> str:
    """The story's words without markup, notes or structure: what looks are read from."""
    out: list[str] = []
    for sc in [*play.before, *play.scenes]:
        if sc.heading:
            out.append(sc.heading)
        out += sc.action
        out += [f"{s.character}. {' '.join(s.lines)}" for s in sc.speeches]
    return "\n\n".join(out)
