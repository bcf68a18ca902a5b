"""A fake language model for the writer tests: deterministic chat completions.

It answers a script request and a scene-plan request with valid JSON (it
reads the schema name in ``response_format``), unless replies were scripted
with ``FakeLLM.script(...)``: then those come first, in order, which is how
tests feed broken, fenced or truncated JSON.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

from app.core.writers.llm import PLAN_FORMAT, SCRIPT_FORMAT

LOOK_MARA = (
    "A woman of about sixty, tall and wiry, with a weathered, freckled face, pale grey eyes and "
    "short white hair cut close at the neck. She wears a heavy navy wool sweater with a rolled "
    "collar, dark oilskin trousers and black rubber boots, a brass key on a leather cord around "
    "her neck, and a thin scar across her left eyebrow."
)
LOOK_TOM = (
    "A boy of about ten, small and quick, with a round sunburnt face, brown eyes and a mop of "
    "curly red hair. He wears a yellow rain jacket two sizes too big with the sleeves rolled "
    "up, faded blue jeans patched at the knees and green wellington boots, and carries a "
    "dented tin lantern with a cracked glass pane."
)

SCRIPT = {
    "title": "The Last Keeper",
    "logline": "An old lighthouse keeper and a runaway boy keep the light burning through the "
               "storm that is meant to be its last.",
    "screenplay": (
        "EXT. LIGHTHOUSE - NIGHT\n\nWaves break over the rocks. A small figure climbs the "
        "path.\n\nINT. LAMP ROOM - NIGHT\n\nMARA trims the wick. TOM stands in the doorway, "
        "dripping.\n\nMARA\nYou'll want to shut that door.\n"
    ),
    "characters": [{"name": "Mara", "look": LOOK_MARA}, {"name": "Tom", "look": LOOK_TOM}],
}

PLAN = {
    "scenes": [
        {
            "heading": "EXT. LIGHTHOUSE - NIGHT",
            "summary": "A boy climbs to the lighthouse in the storm.",
            "characters": ["Tom"],
            "shots": [
                {"shot_type": "EWS", "camera": "static", "description": "The lighthouse on "
                 "its rock, waves breaking white, one lit window.", "characters": [],
                 "dialogue": ""},
                {"shot_type": "MS", "camera": "handheld", "description": "Tom climbs the wet "
                 "path, lantern swinging.", "characters": ["Tom"], "dialogue": ""},
            ],
        },
        {
            "heading": "INT. LAMP ROOM - NIGHT",
            "summary": "Mara lets the boy in.",
            "characters": ["Mara", "Tom"],
            "shots": [
                {"shot_type": "CU", "camera": "dolly in", "description": "Mara trims the "
                 "wick, the flame lighting her face.", "characters": ["Mara"],
                 "dialogue": "MARA: You'll want to shut that door."},
            ],
        },
    ]
}


def completion(content: str, finish_reason: str = "stop", model: str = "fake-llm") -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._scripted: deque[Any] = deque()

    def script(self, *replies: Any) -> None:
        """Queue replies: a content string, ``(content, finish_reason)``, or a raw object."""
        self._scripted.extend(replies)

    def __call__(self, body: dict[str, Any]) -> Any:
        self.requests.append(body)
        if self._scripted:
            item = self._scripted.popleft()
            if isinstance(item, str):
                return completion(item)
            if isinstance(item, tuple):
                return completion(*item)
            return item
        return completion(json.dumps(self.default_answer(body)))

    @staticmethod
    def default_answer(body: dict[str, Any]) -> dict[str, Any]:
        name = (body.get("response_format") or {}).get("json_schema", {}).get("name")
        if name == SCRIPT_FORMAT:
            return SCRIPT
        if name == PLAN_FORMAT:
            return plan_for(body)
        if name is None:  # asked without a schema: read the request like a model would
            asked = " ".join(m.get("content", "") for m in body.get("messages", []))
            return plan_for(body) if '"scenes"' in asked else SCRIPT
        raise ValueError(f"the fake LLM does not know the format {name!r}")


_HEADING = re.compile(r"^(?:INT|EXT)[. ].*$", re.MULTILINE)


def plan_for(body: dict[str, Any]) -> dict[str, Any]:
    """A plan with one scene per scene heading of the screenplay in the request (the
    scenes of ``PLAN`` in turn, under those headings); ``PLAN`` when it has none."""
    asked = body.get("messages", [{}])[1].get("content", "") if len(
        body.get("messages", [])) > 1 else ""
    text = asked.split("<<<", 1)[-1]
    headings = _HEADING.findall(text)
    if not headings:
        return PLAN
    scenes = PLAN["scenes"]
    return {"scenes": [{**scenes[i % len(scenes)], "heading": h.strip()}
                       for i, h in enumerate(headings)]}
