"""Everything the LLM writers say to a model, in one place, as plain text.

Two requests (the script, then the scene plan) and two repair notes (for a
reply that is not valid JSON or not the asked shape, and for a reply cut off
at the token limit). The JSON shapes themselves live in ``llm.py`` beside the
models that check them; these words describe the same shapes to the model.

The cast's looks written here travel into every shot prompt
(``app.core.prompts.build_shot_prompt``), which is what keeps a character
looking the same from shot to shot: so the looks ask for fixed, visible traits.
"""

from __future__ import annotations

from app.core.ideas import Idea, IdeaKind
from app.core.models import Script, ShotType

SYSTEM = """\
You are a screenwriter and storyboard artist working for a film pre-production tool.
You answer with one JSON object that matches the given schema, and nothing else:
no Markdown fences, no comments, no text before or after the object."""

_KIND_NOTES = {
    IdeaKind.PROSE: "The idea is prose: invent the scenes it needs.",
    IdeaKind.MARKDOWN: "The idea is a Markdown outline: keep its order of events and its "
                       "headings as scenes where they are scenes.",
    IdeaKind.FOUNTAIN: "The idea is already a screenplay in Fountain: keep its scenes, their "
                       "order and its dialogue; tidy it rather than rewrite it.",
}

SCRIPT_REQUEST = """\
Write a short screenplay from the idea below.

{kind_note}

Answer with a JSON object with these fields:
- "title": the film's title, at most 8 words.
- "logline": one sentence, at most 40 words: who wants what, and what stands in the way.
- "screenplay": the screenplay in Fountain format. Scene headings on their own line, starting
  with INT. or EXT. (for example "EXT. LIGHTHOUSE - NIGHT"), with a blank line before and after;
  action in plain paragraphs; character names in CAPITALS on their own line before their
  dialogue. No title page. Between 3 and 8 scenes, at most about 1500 words in all.
- "characters": every named character who appears, each with "name" (exactly as in the
  screenplay's character cues, in normal capitalisation) and "look": 50 to 80 words describing
  how they look, so an illustrator draws them the same way in every shot: age, build, face,
  hair, skin, clothes and their colours, one or two distinctive details. Only what can be
  seen; no personality, no backstory, no actions.
{style_line}
The idea:
<<<
{idea}
>>>"""

PLAN_REQUEST = """\
Break the screenplay below into a storyboard: its scenes in story order, and for each scene
the shots that tell it.

Answer with a JSON object with one field, "scenes": a list in story order. Each scene has:
- "heading": its slug line as in the screenplay, for example "INT. KITCHEN - DAY".
- "summary": one or two sentences on what happens.
- "characters": names of the characters present, exactly as in the cast list.
- "shots": 2 to 6 shots in order. Each shot has:
  - "shot_type": one of {shot_types}
    ({shot_type_labels}).
  - "camera": the camera move: static, pan, tilt, dolly in, dolly out, truck, pedestal,
    crane, zoom or handheld.
  - "description": 15 to 45 words on what the frame shows: who is where, doing what, the
    setting, the light. Visible things only; name characters exactly as in the cast list.
  - "characters": names of the characters visible in the frame (may be empty).
  - "dialogue": the line spoken over this shot, as "NAME: line", or "" when none.

Vary the shot sizes as a storyboard artist would: establish each new place wide, go closer
for emotion and detail.

Cast: {cast}

Title: {title}
Logline: {logline}
{part}
The screenplay:
<<<
{screenplay}
>>>"""

PLAN_PART = """
This is part of a longer screenplay: scenes {first} to {last} of {total}. Plan exactly
these {count} scenes, in order, and nothing else.
"""

REPAIR_INVALID = """\
That answer could not be used: {problem}
Answer again with the complete JSON object only, matching the schema exactly."""

REPAIR_TRUNCATED = """\
Your previous answer was cut off at the length limit and could not be used.
Answer again with the complete JSON object, shorter: fewer and terser words in every field."""

REPAIR_LOOPING = """\
Your previous answer kept repeating the same words and could not be used.
Answer again with the complete JSON object: write each field once, briefly, with no
repetition, and close the object when every field is written."""


def script_messages(idea: Idea, style: str | None) -> list[dict[str, str]]:
    style_line = (f"The storyboard will be drawn in this style: {style}. Let the looks suit it.\n"
                  if style else "")
    user = SCRIPT_REQUEST.format(
        kind_note=_KIND_NOTES[idea.kind], style_line=style_line, idea=idea.text.strip()
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def plan_messages(script: Script, scenes: list[str] | None = None, *, first: int = 1,
                  total: int | None = None) -> list[dict[str, str]]:
    """The planning request for the whole screenplay, or for a batch of its ``scenes``
    (the ``first`` of them being scene ``first`` of ``total``)."""
    cast = ", ".join(c.name for c in script.characters) or "(no named characters)"
    text = script.screenplay.strip() if scenes is None else "\n\n".join(scenes)
    count = total if scenes is None else len(scenes)
    part = ""
    if scenes is not None and total is not None and count != total:
        part = PLAN_PART.format(first=first, last=first + count - 1, total=total,
                                count=count)
    user = PLAN_REQUEST.format(
        shot_types=", ".join(t.value for t in ShotType),
        shot_type_labels="; ".join(f"{t.value} = {t.label}" for t in ShotType),
        cast=cast,
        title=script.title,
        logline=script.logline,
        part=part,
        screenplay=text,
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def repair_invalid(problem: str) -> str:
    return REPAIR_INVALID.format(problem=problem)


def repair_truncated() -> str:
    return REPAIR_TRUNCATED


def repair_looping() -> str:
    return REPAIR_LOOPING
