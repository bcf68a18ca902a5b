"""The LLM writer: one code path for asking a model for JSON, checking it, and repairing it.

Both cloud writers are this class over a different ``ChatTransport`` (a RunPod
vLLM job, or an OpenAI-compatible HTTP server). The writer asks with a JSON
schema (``response_format`` ``json_schema``), pulls the JSON object out of the
reply, validates it with the pydantic models below, and when the reply is
broken (not JSON, the wrong shape, or cut off at the token limit) asks again
with a short repair note, at most ``max_repairs`` times, before it fails the
stage with a ``StageError`` that says what was wrong.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from app.core.errors import RemoteError, StageError
from app.core.ideas import Idea
from app.core.models import Character, Scene, ScenePlan, Script, ShotPlan, ShotType
from app.core.writers import llm_prompts

log = logging.getLogger(__name__)

T = TypeVar("T")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ChatTransport(Protocol):
    """Sends one chat-completion request body, returns the completion object as parsed JSON."""

    async def complete(self, body: dict[str, Any]) -> Any: ...

    async def aclose(self) -> None: ...


# The shapes asked of the model: checked by these models, described by these schemas.


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CharacterOut(_Wire):
    name: Text
    look: str = ""


class ScriptOut(_Wire):
    title: Text
    logline: Text
    screenplay: Text
    characters: list[CharacterOut] = Field(default_factory=list)


class ShotOut(_Wire):
    shot_type: ShotType
    camera: str = "static"
    description: Text
    characters: list[str] = Field(default_factory=list)
    dialogue: str = ""

    @field_validator("shot_type", mode="before")
    @classmethod
    def _shot_type(cls, value: Any) -> Any:
        return normalise_shot_type(value)

    @field_validator("camera", mode="before")
    @classmethod
    def _camera(cls, value: Any) -> Any:
        return (value.strip() or "static") if isinstance(value, str) else value


class SceneOut(_Wire):
    heading: Text
    summary: str = ""
    characters: list[str] = Field(default_factory=list)
    shots: list[ShotOut] = Field(min_length=1)


class PlanOut(_Wire):
    scenes: list[SceneOut] = Field(min_length=1)


def _strict(properties: dict[str, Any]) -> dict[str, Any]:
    # The form OpenAI's strict mode wants: every property required, no others allowed.
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


_STR = {"type": "string"}
_NAMES = {"type": "array", "items": _STR}

SCRIPT_SCHEMA = _strict({
    "title": _STR,
    "logline": _STR,
    "screenplay": _STR,
    "characters": {"type": "array", "items": _strict({"name": _STR, "look": _STR})},
})

PLAN_SCHEMA = _strict({
    "scenes": {"type": "array", "items": _strict({
        "heading": _STR,
        "summary": _STR,
        "characters": _NAMES,
        "shots": {"type": "array", "items": _strict({
            "shot_type": {"type": "string", "enum": [t.value for t in ShotType]},
            "camera": _STR,
            "description": _STR,
            "characters": _NAMES,
            "dialogue": _STR,
        })},
    })},
})

SCRIPT_FORMAT = "storyreel_script"
PLAN_FORMAT = "storyreel_scene_plan"


def response_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema,
                                                    "strict": True}}


_SHOT_TYPE_ALIASES = {
    **{t.value.casefold(): t.value for t in ShotType},
    **{t.label.casefold(): t.value for t in ShotType},
    "two shot": "2S", "2 shot": "2S", "twoshot": "2S", "over-the-shoulder": "OTS",
    "over the shoulder": "OTS", "point-of-view": "POV", "point of view": "POV",
    "closeup": "CU", "close up": "CU", "extreme closeup": "ECU", "extreme close up": "ECU",
    "medium closeup": "MCU", "medium close up": "MCU", "medium shot": "MS", "wide shot": "WS",
    "long shot": "WS", "ls": "WS", "els": "EWS", "extreme long shot": "EWS",
    "establishing": "EWS", "insert shot": "INSERT", "cutaway": "INSERT",
}


def normalise_shot_type(value: Any) -> Any:
    """``"Close-up shot"``, ``"cu"``, ``"two shot"`` -> the ``ShotType`` value; else unchanged."""
    if not isinstance(value, str):
        return value
    text = " ".join(value.strip().casefold().replace("_", " ").split())
    for candidate in (text, text.removesuffix(" shot"), text.replace("-", " "),
                      text.removesuffix(" shot").replace("-", " ")):
        if candidate in _SHOT_TYPE_ALIASES:
            return _SHOT_TYPE_ALIASES[candidate]
    return value


# Pulling the JSON out of a reply.


class ReplyProblem(Exception):
    """The model's reply cannot be used; the message says why (it goes back to the model)."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


@dataclass(frozen=True, slots=True)
class Reply:
    content: str
    finish_reason: str | None = None


def read_completion(completion: Any) -> Reply:
    """The text of a chat completion: ``choices[0].message.content``.

    Also takes a one-element list holding the completion (worker-vllm's
    aggregated stream) and a list of stream chunks (their deltas joined).
    """
    if isinstance(completion, list):
        if len(completion) == 1:
            completion = completion[0]
        elif completion and all(isinstance(c, dict) for c in completion):
            return _join_chunks(completion)
    if not isinstance(completion, dict):
        raise ReplyProblem(f"expected a chat completion object, got {type(completion).__name__}")
    if "choices" not in completion and completion.get("error"):
        raise StageError(f"the model server answered with an error: {completion['error']}")
    try:
        choice = completion["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
        finish = choice.get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise ReplyProblem("the completion has no choices[0].message") from None
    if content is None and message.get("refusal"):
        raise StageError(f"the model refused: {message['refusal']}")
    return Reply(content if isinstance(content, str) else "", finish)


def _join_chunks(chunks: list[dict[str, Any]]) -> Reply:
    parts: list[str] = []
    finish = None
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or choice.get("message") or {}
            if isinstance(delta.get("content"), str):
                parts.append(delta["content"])
            finish = choice.get("finish_reason") or finish
    return Reply("".join(parts), finish)


_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n?```\s*$", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def extract_json(reply: Reply) -> Any:
    """The JSON object in a reply: bare, in a Markdown fence, or between other text."""
    text = _THINK.sub("", reply.content).strip()
    if not text:
        raise ReplyProblem("the reply was empty", truncated=reply.finish_reason == "length")
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text)
    except ValueError as exc:
        first_error = exc
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(text[start : end + 1])
        except ValueError:
            pass
    if reply.finish_reason == "length":
        raise ReplyProblem("the reply was cut off at the token limit", truncated=True)
    assert isinstance(first_error, json.JSONDecodeError)
    raise ReplyProblem(f"not valid JSON ({first_error.msg} at line {first_error.lineno}, "
                       f"column {first_error.colno})")


def validation_problem(exc: ValidationError, limit: int = 4) -> str:
    errors = exc.errors()
    lines = []
    for err in errors[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "the object"
        lines.append(f"{where}: {err['msg']}")
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(lines) + more


# Turning checked replies into the app's models.


def to_script(data: Any) -> Script:
    out = _validate(ScriptOut, data)
    seen: set[str] = set()
    cast = []
    for c in out.characters:
        if c.name.casefold() not in seen:
            seen.add(c.name.casefold())
            cast.append(Character(name=c.name, description=" ".join(c.look.split())))
    return Script(title=out.title, logline=out.logline, screenplay=out.screenplay,
                  characters=cast)


def to_scene_plans(data: Any) -> list[ScenePlan]:
    out = _validate(PlanOut, data)
    return [
        ScenePlan(
            scene=Scene(index=i, heading=s.heading, summary=s.summary.strip(),
                        characters=_names(s.characters)),
            shots=[ShotPlan(shot_type=sh.shot_type, camera=sh.camera,
                            description=" ".join(sh.description.split()),
                            characters=_names(sh.characters), dialogue=sh.dialogue.strip())
                   for sh in s.shots],
        )
        for i, s in enumerate(out.scenes, 1)
    ]


def _names(names: list[str]) -> list[str]:
    return [n.strip() for n in names if isinstance(n, str) and n.strip()]


M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise ReplyProblem(f"expected a JSON object, got a JSON {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ReplyProblem(validation_problem(exc)) from None


# The writer.


class LLMWriter:
    """A ``Writer`` over any chat transport. Subclasses only choose the transport."""

    def __init__(
        self,
        transport: ChatTransport,
        *,
        name: str,
        model: str | None = None,
        max_repairs: int = 2,
        script_max_tokens: int = 4096,
        plan_max_tokens: int = 4096,
    ) -> None:
        self.transport = transport
        self.name = name
        self.model = model
        self.max_repairs = max_repairs
        self.script_max_tokens = script_max_tokens
        self.plan_max_tokens = plan_max_tokens
        self._format = "json_schema"  # "json_object", then "none", for servers refusing it

    async def write_script(self, idea: Idea, *, seed: int, style: str | None) -> Script:
        return await self._ask(
            "script", llm_prompts.script_messages(idea, style), SCRIPT_FORMAT, SCRIPT_SCHEMA,
            to_script, max_tokens=self.script_max_tokens, temperature=0.8, seed=seed)

    async def plan_scenes(self, idea: Idea, script: Script, *, seed: int) -> list[ScenePlan]:
        return await self._ask(
            "scene plan", llm_prompts.plan_messages(script), PLAN_FORMAT, PLAN_SCHEMA,
            to_scene_plans, max_tokens=self.plan_max_tokens, temperature=0.4, seed=seed)

    async def aclose(self) -> None:
        await self.transport.aclose()

    def request_body(
        self, messages: list[dict[str, str]], format_name: str, schema: dict[str, Any], *,
        max_tokens: int, temperature: float, seed: int,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model} if self.model else {}
        body.update(messages=messages, max_tokens=max_tokens, temperature=temperature,
                    seed=seed)
        if self._format == "json_schema":
            body["response_format"] = response_format(format_name, schema)
        elif self._format == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    async def _ask(
        self,
        what: str,
        messages: list[dict[str, str]],
        format_name: str,
        schema: dict[str, Any],
        convert: Callable[[Any], T],
        *,
        max_tokens: int,
        temperature: float,
        seed: int,
    ) -> T:
        conversation = list(messages)
        tries = 1 + self.max_repairs
        problem: ReplyProblem | None = None
        n = 0
        while n < tries:
            body = self.request_body(conversation, format_name, schema, max_tokens=max_tokens,
                                     temperature=temperature, seed=seed)
            try:
                completion = await self.transport.complete(body)
            except RemoteError as exc:
                if self._refuses_format(exc):
                    continue  # asked again with a plainer response_format; not a try
                raise StageError(f"the {what} could not be written: {exc}") from exc
            n += 1
            reply: Reply | None = None
            try:
                reply = read_completion(completion)
                return convert(extract_json(reply))
            except ReplyProblem as exc:
                problem = exc
                log.info("writer %s: %s reply %d of %d unusable: %s", self.name, what, n,
                         tries, exc)
                conversation = [*messages, *_repair_turn(exc, reply)]
        assert problem is not None
        reason = ("was cut off at the token limit" if problem.truncated
                  else f"was unusable: {problem}")
        raise StageError(f"the writer ({self.name}) gave no usable {what} in {tries} tries; "
                         f"the last reply {reason}")

    def _refuses_format(self, exc: RemoteError) -> bool:
        """A server that rejects ``json_schema`` (400 naming it) is asked with
        ``json_object``, then with no ``response_format``: the prompts describe the JSON
        too, and the validation and repair still guard the result."""
        detail = exc.detail.casefold()
        if exc.status != 400 or self._format == "none" or not any(
                word in detail for word in ("response_format", "json_schema", "json schema")):
            return False
        self._format = "json_object" if self._format == "json_schema" else "none"
        log.warning("writer %s: the server refused the response format; asking with %s",
                    self.name, self._format)
        return True


def _repair_turn(problem: ReplyProblem, reply: Reply | None) -> list[dict[str, str]]:
    if problem.truncated or reply is None:
        return [{"role": "user", "content": llm_prompts.repair_truncated()
                 if problem.truncated else llm_prompts.repair_invalid(str(problem))}]
    content = reply.content if len(reply.content) <= 12_000 else reply.content[:12_000] + "…"
    return [{"role": "assistant", "content": content},
            {"role": "user", "content": llm_prompts.repair_invalid(str(problem))}]
