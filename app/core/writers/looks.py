"""Visual looks for the draft writer's cast: 50 to 80 words each, so that every
shot of a run draws a character the same way, as an LLM writer's looks do.

Deterministic: the same name in the same story always gets the same look. The
sentence that introduces a character decides what it can (age, sex, a trade
with its clothes); the rest is picked from plain, drawable choices by a hash
of the name.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re

MIN_WORDS, MAX_WORDS = 50, 80

_PRONOUNS_F, _PRONOUNS_M = {"she", "her"}, {"he", "his"}
_NEXT_F, _NEXT_M = "<next: she>", "<next: he>"  # a next sentence opening with a pronoun
_WORD = re.compile(r"[a-z][a-z'-]*")
_NOUNS_F = {"woman", "girl", "mother", "grandmother", "wife", "daughter", "granddaughter",
            "sister", "queen", "lady", "aunt", "niece", "widow", "mrs", "ms", "miss", "bride"}
_NOUNS_M = {"man", "boy", "father", "grandfather", "husband", "son", "grandson", "brother",
            "king", "lord", "uncle", "nephew", "widower", "mr", "sir"}
_OLD = {"old", "elderly", "aged", "grandmother", "grandfather", "retired", "veteran", "widow",
        "widower", "ancient", "grey-haired", "gray-haired"}
_YOUNG = {"boy", "girl", "child", "kid", "teenager", "teen", "young", "grandson",
          "granddaughter", "student", "runaway", "daughter", "son", "apprentice"}

# trade -> what they wear (top, bottom)
_TRADES = {
    "keeper": ("a heavy cable-knit sweater under a yellow oilskin coat", "dark wool trousers"),
    "captain": ("a navy pea coat with brass buttons", "grey work trousers"),
    "fisherman": ("a faded orange waterproof smock", "rubber waders"),
    "detective": ("a rumpled trench coat over a white shirt and loose tie", "charcoal trousers"),
    "thief": ("a fitted black roll-neck sweater", "black cargo trousers"),
    "doctor": ("a white coat over a pale blue shirt", "navy trousers"),
    "scientist": ("a lab coat over a green cardigan", "brown corduroy trousers"),
    "soldier": ("an olive drab field jacket", "camouflage trousers"),
    "pilot": ("a worn brown leather flight jacket", "khaki trousers"),
    "nurse": ("teal scrubs under a grey cardigan", "teal scrub trousers"),
    "officer": ("a dark blue uniform jacket", "matching uniform trousers"),
    "student": ("an oversized hoodie with a frayed hem", "ripped jeans"),
}
_TOPS = ("a rust-red wool jumper", "a faded denim jacket over a white T-shirt",
         "a bottle-green corduroy jacket", "a mustard-yellow raincoat", "a navy peacoat",
         "a grey hoodie under a black bomber jacket", "a burgundy cardigan over a cream shirt",
         "a checked flannel shirt in red and black")
_BOTTOMS = ("black jeans", "olive cargo trousers", "dark corduroy trousers", "grey chinos",
            "faded blue jeans")
_SHOES = ("scuffed brown boots", "white canvas sneakers", "black rubber boots",
          "worn leather loafers", "muddy hiking boots")
_BUILDS = ("slight and wiry", "tall and lanky", "broad-shouldered and stocky",
           "short and sturdy", "lean and upright", "soft-bodied and round-shouldered")
_FACES = ("a narrow face with high cheekbones", "a round face with heavy brows",
          "a square jaw and a crooked nose", "deep-set eyes and hollow cheeks",
          "a freckled face with a wide mouth", "a long face with a sharp chin")
_SKINS = ("pale, wind-reddened skin", "olive skin", "warm brown skin", "deep brown skin",
          "light tan skin", "ruddy, weathered skin")
_HAIR_COLOURS = ("black", "dark brown", "chestnut", "auburn", "sandy blond", "ginger")
_HAIR_CUTS = ("cropped short", "in a loose shoulder-length tangle", "tied back in a low knot",
              "in tight curls", "slicked back", "in a messy mop")
_DETAILS = ("a thin white scar through the left eyebrow", "round wire-rimmed glasses",
            "a silver ring on the right thumb", "a knitted scarf in faded blue",
            "a canvas satchel worn across the chest", "a battered wristwatch on a leather strap",
            "ink-stained fingers", "a small gold hoop in one ear")


def draft_look(name: str, text: str, story: str = "") -> str:
    """A look of 50 to 80 words for ``name``, from what ``text`` (the idea) says of them:
    the sentences that name them and the sentence after each (where "she" or "he" is)."""
    rng = random.Random(hashlib.sha256(f"{story}\n{name}".casefold().encode()).digest())
    context = _context_words(name, text)
    words = set(context)
    female = 3 * len(words & _NOUNS_F) + context.count(_NEXT_F)
    male = 3 * len(words & _NOUNS_M) + context.count(_NEXT_M)
    if female == male and name.casefold().endswith("a"):  # Mara, Vera, Amara: a weak hint
        female += 1
    if female > male:
        young, grown = "girl", "woman"
    elif male > female:
        young, grown = "boy", "man"
    else:
        young, grown = "teenager", "adult"
    colour = rng.choice(_HAIR_COLOURS)
    stated = [int(w[5:-1]) for w in context if w.startswith("<age ")]
    if stated:
        years = stated[0]
        grey = "greying " if years >= 45 else ""
        child = "child" if young == "teenager" and years < 13 else young
        age = f"{_a(child if years < 18 else grown)} of about {years}"
        hair = f"{grey}{colour} hair {rng.choice(_HAIR_CUTS)}"
    elif words & _OLD:
        age = f"{_a(grown)} of about {rng.choice((64, 68, 72, 75))}"
        hair = f"thin white hair {rng.choice(_HAIR_CUTS)}"
    elif words & _YOUNG:
        age = f"{_a(young)} of about {rng.choice((12, 14, 16, 17))}"
        hair = f"{colour} hair {rng.choice(_HAIR_CUTS)}"
    else:
        age = f"{_a(grown)} of about {rng.choice((28, 34, 41, 47, 53))}"
        hair = f"{colour} hair {rng.choice(_HAIR_CUTS)}"
    trade = next((t for t in _TRADES if t in words or f"{t}s" in words), None)
    top, bottom = _TRADES[trade] if trade else (rng.choice(_TOPS), rng.choice(_BOTTOMS))
    parts = [
        f"{name.title()} is {age}, {rng.choice(_BUILDS)}, with {rng.choice(_FACES)}, "
        f"{rng.choice(_SKINS)} and {hair}.",
        f"Wears {top}, {bottom} and {rng.choice(_SHOES)}.",
        f"Always has {rng.choice(_DETAILS)}.",
    ]
    look = " ".join(parts)
    extras = iter(("Stands with a slight stoop and moves deliberately.",
                   "Clothes are clean but visibly old, patched at the elbows.",
                   "The same outfit in every scene, the colours muted by weather."))
    while len(look.split()) < MIN_WORDS:
        look += " " + next(extras)
    return " ".join(look.split()[:MAX_WORDS])


def _context_words(name: str, text: str) -> list[str]:
    """What the text says right around the name: up to five words before it and three after
    ("her grandson Theo", "an old keeper named Mara"), its age in a Fountain
    introduction ("AMARA OSEI (50s)") and whether the next sentence opens with "she" or
    "he". Pronouns elsewhere are left alone: they as often belong to someone else."""
    words: list[str] = []
    sentences, folded_sentences = _sentences(text)
    pattern = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
    folded = name.casefold()
    for i, sentence in enumerate(sentences):
        if folded not in folded_sentences[i]:
            continue
        for match in pattern.finditer(sentence):
            before = _WORD.findall(sentence[:match.start()].casefold())[-5:]
            after = _WORD.findall(sentence[match.end():].casefold())[:3]
            words += before + after
            years = stated_age(sentence[match.end():])
            if years is not None:
                words.append(f"<age {years}>")
            if i + 1 < len(sentences):  # "Mara climbs. She..." (not "...shows him how")
                first = _WORD.findall(sentences[i + 1].casefold())[:1]
                words += [_NEXT_F if w in _PRONOUNS_F else _NEXT_M for w in first
                          if w in _PRONOUNS_F | _PRONOUNS_M]
    return words


# Ages said as ages, right after the name: "AMARA OSEI (50s)", "Mara, 28,", "Theo (12)";
# or in the same sentence: "in her sixties", "a 60-year-old", "aged 9". Never a year in
# a heading ("NIGHT (1973)"), a scene number or any other number.
_AGE_AFTER_NAME = re.compile(
    r"(?:\s+[A-Z][\w'’.-]*){0,2}\s*(?:\((?P<paren>\d{1,3})(?P<s>s)?\)|,\s*(?P<comma>\d{1,3})\s*[,.;)])")
_AGE_WORDS = re.compile(
    r"\b(?:in\s+(?:her|his|their)\s+(?P<when>early\s+|mid-?\s*|late\s+)?"
    r"(?P<decade>twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|"
    r"[2-9]0s)"
    r"|(?P<years>\d{1,3})[- ]years?[- ]old|aged\s+(?P<aged>\d{1,3}))\b", re.IGNORECASE)
_DECADES = {w: 10 * n for n, w in enumerate(
    "_ _ twenties thirties forties fifties sixties seventies eighties nineties".split()) if n > 1}
MAX_AGE = 110


def stated_age(after: str) -> int | None:
    """The age the text gives right after a name (``after`` starts just past the name),
    or None. A decade ("50s", "in her sixties") is read as its middle: 55, 65."""
    m = _AGE_AFTER_NAME.match(after)
    if m:
        if m.group("paren"):
            n = int(m.group("paren"))
            return _plausible(n + 5 if m.group("s") and n % 10 == 0 else n)
        return _plausible(int(m.group("comma")))
    m = _AGE_WORDS.search(re.split(r"(?<=[.!?])\s", after, maxsplit=1)[0])
    if not m:
        return None
    if m.group("decade"):
        word = m.group("decade").lower()
        decade = int(word[0]) * 10 if word[0].isdigit() else _DECADES[word]
        when = (m.group("when") or "").strip().lower()
        return decade + (2 if when == "early" else 8 if when == "late" else 5)
    return _plausible(int(m.group("years") or m.group("aged")))


def _plausible(years: int) -> int | None:
    return years if 0 < years <= MAX_AGE else None


@functools.lru_cache(maxsize=4)  # every cast member of a script reads the same text
def _sentences(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The text's sentences, and the same case-folded."""
    sentences = tuple(re.split(r"(?<=[.!?])\s+|\n\s*\n", text))
    return sentences, tuple(s.casefold() for s in sentences)


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"
