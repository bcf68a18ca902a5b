"""Turn an idea (prose, a Markdown outline or a Fountain script) into an outline.

The draft writer's reading of a text: a title, a logline, a cast, and scenes,
each with a slug line, its beats (sentences of action) and its lines of
dialogue. Plain rules, no model: a structured idea is honoured scene by
scene; plain prose is split into beats grouped into three or more scenes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from app.core.ideas import Idea, IdeaKind

MAX_SCENES = 12

_SENTENCE_HIDDEN = re.compile(r"(?<=[.!?…\x00])\s+(?=[\x00(]?[A-Z0-9\x00])")
_HEADING = re.compile(r"^(?:\.(?!\.)\S|(?:INT\./EXT|INT/EXT|I/E|INT|EXT|EST)[. ])", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"\s*#[\w.-]+#\s*$")
_QUOTE = re.compile(r"[\"“]([^\"”]{2,300})[\"”]")
_CUE = re.compile(r"^(?=.*[A-Z])[A-Z0-9 .'\-]+(?:\s*\([^)]*\))?\s*\^?$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")

STOPWORDS = frozenset("""
a an the and or but if then so of in on at to for from by with without into onto over under
as is are was were be been being it its this that these those there here he she they we you i
his her their our your my me him them us who whom whose which what when where why how all any
each every some no not only just than too very can will would should could may might must do
does did has have had one two three after before while until once again also still even yet
up down out off about across through toward towards near behind beyond inside outside upon
""".split())

NOT_NAMES = STOPWORDS | frozenset("""
monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december god mr mrs ms dr int ext day night dawn dusk
morning evening later continuous suddenly meanwhile finally outside inside then
""".split())

# Places the slug line can name, and whether they are interiors.
PLACES = {
    **dict.fromkeys("""room kitchen office house hall bedroom bathroom bar shop corridor cabin
        apartment flat library church stairs stairway staircase attic cellar basement garage
        studio classroom school hospital station train car bus lab laboratory warehouse
        restaurant cafe diner hotel lobby elevator museum theatre theater prison cell tent
        lamp ship's bridge cockpit chamber vault palace castle tower lighthouse""".split(),
                    "INT"),
    **dict.fromkeys("""street beach sea ocean shore coast cliff cliffs forest woods field
        road highway sky garden park harbor harbour port pier dock rooftop roof bridge river
        lake mountain mountains desert island village city town square market alley yard
        farm meadow hill hills valley canyon jungle swamp cemetery graveyard rocks
        deck""".split(), "EXT"),
}
# A lighthouse, a tower or a castle is an exterior unless the text goes inside.
_AMBIGUOUS = frozenset({"lighthouse", "tower", "castle", "palace", "church", "station"})
_INSIDE = re.compile(r"\b(inside|indoors|climbs? the stairs|lamp room|upstairs|downstairs)\b",
                     re.IGNORECASE)

TIMES = (
    ("NIGHT", ("night", "midnight", "moon", "moonlight", "stars", "dark", "darkness")),
    ("DAWN", ("dawn", "sunrise", "first light", "daybreak")),
    ("DUSK", ("dusk", "sunset", "twilight", "evening")),
    ("MORNING", ("morning",)),
)


@dataclass
class SceneOutline:
    heading: str
    beats: list[str]
    dialogue: list[tuple[str, str]] = field(default_factory=list)
    characters: list[str] = field(default_factory=list)
    name: str = ""


@dataclass
class Outline:
    title: str
    logline: str
    cast: dict[str, str]  # NAME -> the first sentence that mentions them
    scenes: list[SceneOutline]
    screenplay: str | None = None  # the idea itself, when it already is a screenplay


def outline(idea: Idea) -> Outline:
    if idea.kind is IdeaKind.FOUNTAIN:
        return _from_fountain(idea.text)
    if idea.kind is IdeaKind.MARKDOWN:
        return _from_markdown(idea.text)
    return _from_prose(idea.text)


# Prose.


_ABBREVIATION = re.compile(r"\b(Dr|Mr|Mrs|Ms|St|Mt|Jr|Sr|Prof|Capt|Lt|Sgt|vs|etc)\.", re.I)
_QUOTED = re.compile(r"[\"“][^\"”]*[\"”]")


def sentences(text: str) -> list[str]:
    """Split into sentences, never inside quotes or after an abbreviation such as ``Dr.``."""
    flat = re.sub(r"\s+", " ", text).strip()
    kept: list[str] = []

    def hide(m: re.Match[str]) -> str:
        kept.append(m.group(0))
        return f"\x00{len(kept) - 1}\x00"

    flat = _QUOTED.sub(hide, _ABBREVIATION.sub(lambda m: m.group(1) + "\x01", flat))
    out = []
    for part in _SENTENCE_HIDDEN.split(flat):
        part = re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], part)
        part = part.replace("\x01", ".").strip()
        if part:
            out.append(part)
    return out


def _from_prose(text: str) -> Outline:
    lines = [ln.strip() for ln in text.splitlines()]
    title = None
    if len(lines) > 1 and lines[0] and len(lines[0]) <= 70 and lines[0][-1] not in ".!?,;:":
        title, text = lines[0].strip("# "), "\n".join(lines[1:])
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(paragraphs) >= 3:
        groups = [sentences(p) for p in paragraphs[:MAX_SCENES]]
    else:
        beats = _at_least_three(sentences(text))
        count = min(MAX_SCENES, max(3, math.ceil(len(beats) / 3)))
        groups = _split_evenly(beats, count)
    names = find_names(text)
    title = title or make_title(text, names)
    scenes = _scenes_from_groups(groups, names)
    logline = _clip(sentences(text)[0] if sentences(text) else title, 240)
    return Outline(title=title, logline=logline, cast=_cast(text, names, scenes), scenes=scenes)


_CLAUSE = re.compile(
    r"(?:,|;|\s+—)\s+(?=(?:and|but|then|until|when|as|so|while|before|after)\b)"
    r"|;\s+|\s+(?=(?:during|while|until|before|after|because|when)\b)", re.IGNORECASE)


def _at_least_three(beats: list[str]) -> list[str]:
    """One or two sentences still make three scenes: split at clauses (", but ...",
    "during ...", "; ..."), then halve the longest beat at its best phrase boundary,
    so no beat starts or ends in the middle of a phrase."""
    if len(beats) >= 3:
        return beats
    parts = [c.strip(" ,;") for b in beats for c in _CLAUSE.split(b)]
    parts = [c for c in parts if c]
    while 0 < len(parts) < 3:
        longest = max(range(len(parts)), key=lambda i: len(parts[i].split()))
        halves = _halve(parts[longest])
        if halves is None:  # "Rain." still gets a beginning, a middle and an end
            return [*parts, *[parts[-1]] * (3 - len(parts))]
        parts[longest:longest + 1] = halves
    return parts


_JOINS = frozenset("and but as while when with in on at into through below above under "
                   "across toward towards until before after because so".split())


def _halve(text: str) -> list[str] | None:
    """``text`` cut in two near its middle where a phrase ends (after a comma, before
    'and', 'in', 'with'...), never after a little word; None when it is too short."""
    words = text.split()
    if len(words) < 4:
        return None
    best, best_score = None, -1.0
    for i in range(max(1, len(words) // 4), len(words) - max(1, len(words) // 4) + 1):
        if i >= len(words):
            break
        before, word = words[i - 1], words[i].lower()
        if before.lower().strip(",;") in STOPWORDS - _JOINS and not before.endswith(","):
            continue
        score = 3 if before.endswith((",", ";")) else 2 if word in _JOINS else 1
        score -= abs(i - len(words) / 2) / len(words)  # nearer the middle is better
        if score > best_score:
            best, best_score = i, score
    if best is None:
        return None
    return [" ".join(words[:best]).strip(" ,;"), " ".join(words[best:]).strip(" ,;")]


def _split_evenly(items: list[str], count: int) -> list[list[str]]:
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    groups, start = [], 0
    for n in range(count):
        end = start + size + (1 if n < extra else 0)
        groups.append(items[start:end])
        start = end
    return groups


def _scenes_from_groups(groups: list[list[str]], names: list[str],
                        titles: list[str] | None = None) -> list[SceneOutline]:
    scenes: list[SceneOutline] = []
    place, time = None, "DAY"
    for n, beats in enumerate(groups):
        text = " ".join(beats)
        name = titles[n] if titles else ""
        place = find_place(text) or find_place(name) or place
        time = find_time(text) or time
        setting = interior(text, place) if place else "EXT"
        location = place.upper() if place else (name.upper() or "THE STORY'S WORLD")
        dialogue = [(speaker(b, names), q) for b in beats for q in _QUOTE.findall(b)]
        scenes.append(SceneOutline(
            heading=f"{setting}. {location} - {time}",
            beats=[_QUOTE.sub("", b).strip() or b for b in beats] if dialogue else beats,
            dialogue=dialogue,
            characters=[nm for nm in names if re.search(rf"\b{re.escape(nm)}\b", text, re.I)],
            name=name,
        ))
    return scenes


_NOT_BEFORE_NAME = frozenset("in at on to from across into near over of the a an toward "
                             "towards past through".split())


def find_names(text: str) -> list[str]:
    """People's names: runs of capitalised words seen mid-sentence, most frequent first.

    A run after a preposition or an article (``on Gull Rock``, ``the Margaret``) is a
    place or a thing, not a person. A full name counts for its first name.
    """
    counts: Counter[str] = Counter()
    refused: set[str] = set()
    for sentence in sentences(_QUOTED.sub(" ", text)):
        words = re.findall(r"[A-Za-z][A-Za-z'’-]*", sentence)
        n = 1
        while n < len(words):
            if not _capitalised(words[n]):
                n += 1
                continue
            start = n
            while n < len(words) and _capitalised(words[n]):
                n += 1
            first = _base(words[start])
            if start == 1 and _capitalised(words[0]):
                continue  # the rest of a name that starts the sentence: "Vera Sokol is..."
            if words[start - 1].lower() in _NOT_BEFORE_NAME:
                refused.add(first)
            else:
                counts[first] += 1
    return [name.upper() for name, _ in counts.most_common() if name not in refused][:6]


def _capitalised(word: str) -> bool:
    base = _base(word)
    return base[:1].isupper() and not base.isupper() and base.lower() not in NOT_NAMES


def _base(word: str) -> str:
    return word[:-2] if word.endswith(("'s", "’s")) else word


def find_place(text: str) -> str | None:
    words = re.findall(r"[a-z']+", text.lower())
    for i, w in enumerate(words):
        if w in PLACES:
            before = words[i - 1] if i else ""
            if before and before not in STOPWORDS and before not in PLACES and len(before) > 2 \
                    and not before.endswith(("ly", "ed", "ing", "s")):
                return f"{before} {w}"
            return w
    return None


def interior(text: str, place: str) -> str:
    last = place.split()[-1]
    if last in _AMBIGUOUS:
        return "INT" if _INSIDE.search(text) else "EXT"
    return PLACES.get(last, "EXT")


def find_time(text: str) -> str | None:
    low = text.lower()
    for label, words in TIMES:
        if any(re.search(rf"\b{re.escape(w)}\b", low) for w in words):
            return label
    return None


def speaker(sentence: str, names: list[str]) -> str:
    for name in names:
        if re.search(rf"\b{re.escape(name)}\b", sentence, re.IGNORECASE):
            return name
    return "VOICE"


def make_title(text: str, names: list[str]) -> str:
    nouns = Counter(w for w in re.findall(r"[a-z]{4,}", text.lower())
                    if w not in STOPWORDS and not w.endswith(("ly", "ed", "ing"))
                    and w.upper() not in names)
    places = [w for w, _ in nouns.most_common() if w in PLACES]
    subject = places[0] if places else (nouns.most_common(1)[0][0] if nouns else "story")
    if names:
        return f"{names[0].title()} and the {subject.title()}"
    return f"The {subject.title()}"


def _cast(text: str, names: list[str], scenes: list[SceneOutline]) -> dict[str, str]:
    cast: dict[str, str] = {}
    every = sentences(text)
    for name in names:
        first = next((s for s in every if re.search(rf"\b{re.escape(name)}\b", s, re.I)), "")
        cast[name] = _clip(first, 300)
    for scene in scenes:
        for who, _ in scene.dialogue:
            cast.setdefault(who, "")
    return cast


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


# Markdown.


def _from_markdown(text: str) -> Outline:
    sections: list[tuple[int, str, list[str]]] = []  # (level, heading, lines)
    intro: list[str] = []
    for line in text.splitlines():
        m = _MD_HEADING.match(line)
        if m:
            sections.append((len(m.group(1)), m.group(2).strip(), []))
        elif sections:
            sections[-1][2].append(line)
        else:
            intro.append(line)
    title = None
    if sections and sum(1 for s in sections if s[0] == sections[0][0]) == 1 and len(sections) > 1:
        _, title, first_lines = sections.pop(0)  # the one top heading is the title
        intro += first_lines
    if not sections:
        return _from_prose(text)
    level = min(s[0] for s in sections)
    scene_sections: list[tuple[str, list[str]]] = []
    for lvl, heading, lines in sections:
        if lvl == level or not scene_sections:
            scene_sections.append((heading, list(lines)))
        else:  # a sub-heading belongs to its scene
            scene_sections[-1][1].extend([heading + ".", *lines])
    scene_sections = scene_sections[:MAX_SCENES]
    groups = [_md_beats(lines) or [heading] for heading, lines in scene_sections]
    intro_text = " ".join(_md_beats(intro))
    all_text = "\n".join([intro_text, *(" ".join(g) for g in groups)])
    names = find_names(all_text)
    scenes = _scenes_from_groups(groups, names, [h for h, _ in scene_sections])
    for scene, (heading, _) in zip(scenes, scene_sections, strict=True):
        if _HEADING.match(heading):  # the author wrote a slug line: keep it
            scene.heading = heading.lstrip(".").upper()
    title = _strip_md(title) if title else make_title(all_text, names)
    logline_source = sentences(intro_text) or sentences(all_text) or [title]
    return Outline(title=title, logline=_clip(logline_source[0], 240),
                   cast=_cast(all_text, names, scenes), scenes=scenes)


def _md_beats(lines: list[str]) -> list[str]:
    beats: list[str] = []
    paragraph: list[str] = []
    for line in [*lines, ""]:
        if _LIST_ITEM.match(line):
            beats += sentences(" ".join(paragraph))
            paragraph = []
            beats.append(_strip_md(_LIST_ITEM.sub("", line)))
        elif line.strip():
            paragraph.append(_strip_md(line.strip()))
        else:
            beats += sentences(" ".join(paragraph))
            paragraph = []
    return [b for b in beats if b]


def _strip_md(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images
    return re.sub(r"[*_`>]+", "", text).strip()


# Fountain.


def _from_fountain(text: str) -> Outline:
    lines = text.splitlines()
    meta: dict[str, str] = {}
    start = 0
    if lines and re.match(r"^[A-Za-z ]+:", lines[0]) and not _HEADING.match(lines[0]):
        for start, line in enumerate(lines):  # noqa: B007 - start is used after the loop
            if not line.strip():
                break
            key, _, value = line.partition(":")
            if value.strip() and not line.startswith((" ", "\t")):
                meta[key.strip().lower()] = value.strip()
        else:
            start = len(lines)
    scenes: list[SceneOutline] = []
    body = lines[start:]
    pending_cue: str | None = None
    for n, raw in enumerate(body):
        line = raw.strip()
        before_blank = n == 0 or not body[n - 1].strip()
        after = body[n + 1].strip() if n + 1 < len(body) else ""
        if _HEADING.match(line) and before_blank:
            heading = _SCENE_NUMBER.sub("", line.lstrip(".")).upper()
            scenes.append(SceneOutline(heading=heading, beats=[]))
            pending_cue = None
            continue
        if not scenes or not line or line.startswith(("[[", "/*", "#", "=", ">", "~")):
            pending_cue = None if not line else pending_cue
            continue
        if pending_cue:
            if not (line.startswith("(") and line.endswith(")")):
                scenes[-1].dialogue.append((pending_cue, line))
            continue
        if before_blank and after and _CUE.match(line.lstrip("@")) and not line.endswith("TO:"):
            pending_cue = re.sub(r"\s*\(.*\)|\^", "", line.lstrip("@")).strip()
            continue
        if line.endswith("TO:") and line.isupper():
            continue
        scenes[-1].beats += sentences(line.lstrip("!"))
    if not scenes:  # detected as Fountain, but without headings after all
        return _from_prose(text)
    cues = list(dict.fromkeys(c for scene in scenes for c, _ in scene.dialogue))
    names: list[str] = []
    for scene in scenes:
        who = [c for c, _ in scene.dialogue]
        seen = [c for c in cues if re.search(rf"\b{re.escape(c)}\b", " ".join(scene.beats), re.I)]
        scene.characters = list(dict.fromkeys(seen + who))
        names += scene.characters
        if not scene.beats:
            scene.beats = [line for _, line in scene.dialogue][:1] or [scene.heading]
    names = list(dict.fromkeys(names))
    action = " ".join(" ".join(s.beats) for s in scenes)
    title = meta.get("title") or make_title(action, names)
    logline = meta.get("logline") or _clip(sentences(action)[0] if action else title, 240)
    cast = {nm: "" for nm in names}
    for name in names:
        cast[name] = next((b for s in scenes for b in s.beats if name.lower() in b.lower()), "")
    return Outline(title=title, logline=logline, cast=cast, scenes=scenes[:MAX_SCENES],
                   screenplay=text if "title" in meta else f"Title: {title}\n\n{text}")
