"""Reading plain prose into an outline, and the plain rules every reading shares.

Sentences (never split inside quotes or after ``Dr.``), people's names, places and
times of day for slug lines, titles, and markup stripped to plain words. Prose has no
scenes of its own: its paragraphs (or, for a short idea, its beats) are grouped into
scenes. ``outline.py`` reads the structured ideas (Fountain, Markdown) with these.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from dataclasses import dataclass, field

MAX_PROSE_SCENES = 12
"""Plain prose has no scenes of its own: its paragraphs are grouped into at most this many
(merged, never dropped). A script's or an outline's own scenes are all kept."""

_SENTENCE_HIDDEN = re.compile(r"(?<=[.!?…\x00])\s+(?=[\x00(]?[A-Z0-9\x00])")
_QUOTE = re.compile(r"[\"“]([^\"”]{2,300})[\"”]")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")

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
    text: str = ""  # the story's words without markup, for looks; empty: the idea's text


_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>~|])")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
CAST_HEADING = re.compile(r"^(?:characters|cast|dramatis personae)\s*:?$", re.IGNORECASE)
_CAST_LINE = re.compile(r"^\s*(?:characters|cast)\s*:\s*(\S.*)$", re.IGNORECASE | re.MULTILINE)

# Prose.


def _clean_prose(text: str) -> str:
    """HTML tags and entities and Markdown escapes out of plain prose."""
    text = re.sub(r"[ \t]+(?=[.,;:!?])", "", _TAG.sub(" ", text))
    text = _ESCAPED.sub(lambda m: "" if m.group(1) in "*_" else m.group(1), text)
    return html.unescape(text)


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


def from_prose(text: str, listed: list[str] | None = None, *, titled: bool = True) -> Outline:
    text = _clean_prose(text)
    listed = [*(listed or []), *names_in_list([m.group(0) for m in _CAST_LINE.finditer(text)])]
    text = _CAST_LINE.sub("", text)
    lines = [ln.strip() for ln in text.splitlines()]
    title = None
    if titled and len(lines) > 1 and lines[0] and len(lines[0]) <= 70 \
            and lines[0][-1] not in ".!?,;:":
        title, text = lines[0].strip("# "), "\n".join(lines[1:])
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(paragraphs) >= 3:
        groups = [[b for p in group for b in sentences(p)]
                  for group in _split_evenly(paragraphs, MAX_PROSE_SCENES)]
    else:
        beats = _at_least_three(sentences(text))
        count = min(MAX_PROSE_SCENES, max(3, math.ceil(len(beats) / 3)))
        groups = _split_evenly(beats, count)
    names = list(dict.fromkeys([*listed, *find_names(text)]))
    title = title or make_title(text, names)
    scenes = scenes_from_groups(groups, names)
    logline = clip(sentences(text)[0] if sentences(text) else title, 240)
    return Outline(title=title, logline=logline, cast=cast_of(text, names, scenes), scenes=scenes)


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


def scenes_from_groups(groups: list[list[str]], names: list[str],
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
    """People's names, most mentioned first: capitalised words seen mid-sentence, or a
    sentence's first word when the text names it again and never writes it in lower case
    ("Nadia runs. ... waves to Nadia."; not "Rain falls. ... the rain").

    A run seen more often after a preposition or an article (``on Gull Rock``, ``the
    Margaret``) than elsewhere is a place or a thing, not a person. Acronyms and words
    in capitals (NASA, OPEN) are never names. A full name counts for its first name.
    """
    counts: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    initial: Counter[str] = Counter()
    for sentence in sentences(_QUOTED.sub(" ", text)):
        words = re.findall(r"[A-Za-z][A-Za-z'’-]*", sentence)
        if words and _capitalised(words[0]):
            initial[base_name(words[0])] += 1
        n = 1
        while n < len(words):
            if not _capitalised(words[n]):
                n += 1
                continue
            start = n
            while n < len(words) and _capitalised(words[n]):
                n += 1
            first = base_name(words[start])
            if start == 1 and _capitalised(words[0]):
                continue  # the rest of a name that starts the sentence: "Vera Sokol is..."
            if words[start - 1].lower() in _NOT_BEFORE_NAME:
                refused[first] += 1
            else:
                counts[first] += 1
    lower = set(re.findall(r"\b[a-z][a-z'’-]*", text))
    names = Counter({name: n + initial[name] for name, n in counts.items() if n > refused[name]})
    for name, n in initial.items():
        if name not in names and name.lower() not in lower \
                and n + counts[name] + refused[name] >= 2:
            names[name] = n + counts[name] + refused[name]
    return [name.upper() for name, _ in names.most_common()][:6]


def _capitalised(word: str) -> bool:
    base = base_name(word)
    return base[:1].isupper() and not base.isupper() and base.lower() not in NOT_NAMES


def base_name(word: str) -> str:
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


def cast_of(text: str, names: list[str], scenes: list[SceneOutline]) -> dict[str, str]:
    cast: dict[str, str] = {}
    every = sentences(text)
    for name in names:
        first = next((s for s in every if re.search(rf"\b{re.escape(name)}\b", s, re.I)), "")
        cast[name] = clip(first, 300)
    for scene in scenes:
        for who, _ in scene.dialogue:
            cast.setdefault(who, "")
    return cast


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def strip_markup(text: str) -> str:
    """Markdown to plain words: links, images, HTML tags, emphasis and code marks go,
    escaped characters stay as themselves, entities become characters."""
    kept: list[str] = []

    def hide(m: re.Match[str]) -> str:
        kept.append(m.group(1))
        return f"\x02{len(kept) - 1}\x02"

    text = _ESCAPED.sub(lambda m: "" if m.group(1) in "*_" else hide(m), text)
    text = _TAG.sub(" ", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images
    text = re.sub(r"^\s*>+\s?", "", text)  # a quote's marker
    text = re.sub(r"[*_`~]+", "", text)
    text = re.sub(r"\x02(\d+)\x02", lambda m: kept[int(m.group(1))], text)
    text = re.sub(r"\s+", " ", html.unescape(text))
    return re.sub(r"\s+(?=[.,;:!?])", "", text).strip()


def names_in_list(lines: list[str], *, section: bool = False) -> list[str]:
    """A cast list: ``Characters: Vera, Anton``, or with ``section`` (the lines of a
    "Characters" section) list items such as ``- VERA SOKOL, a safecracker``; each person
    by their first name, upper case."""
    names: list[str] = []
    items = [LIST_ITEM.sub("", ln) for ln in lines if section and LIST_ITEM.match(ln)]
    for m in _CAST_LINE.finditer("\n".join(lines)):
        items += re.split(r",|;|\band\b", m.group(1))
    for item in items:
        words = re.findall(r"[A-Za-z][A-Za-z'’-]*", strip_markup(item))
        if words and words[0][:1].isupper() and words[0].lower() not in NOT_NAMES:
            names.append(base_name(words[0]).upper())
    return list(dict.fromkeys(names))
