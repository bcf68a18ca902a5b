"""The LLM writer: one code path for asking a model for JSON, checking it, and repairing it.

Both cloud writers are this class over a different ``ChatTransport`` (a RunPod
vLLM job, or an OpenAI-compatible HTTP server). The writer asks with a JSON
schema (``response_format`` ``json_schema``), pulls the JSON object out of the
reply, validates it with the pydantic models below, and when the reply is
broken (not JSON, the wrong shape, or cut off at the token limit) asks again
with a short repair note, at most ``max_repairs`` times, before it fails the
stage with a ``StageError`` that says what was wrong.

Structured output is bounded (``maxItems`` on scenes per batch, shots per scene and
names, ``maxLength`` on strings): under constrained decoding (vLLM, llama.cpp) bounds are
what stop a weak or looping model. OpenAI's strict mode documents ``minItems`` and
``maxItems`` but not ``maxLength``; a server that refuses a bound (a 400 naming it) is
asked again without that keyword; one that refuses the schema itself, with
``json_object``, then with no ``response_format``.
A reply that repeats itself is refused (``looks_looping``) and asked again with a
corrective note. A refusal for the model's context length (vLLM's own wording) shrinks
``max_tokens`` to what fits, or, when the prompt itself is too long, makes planning split
its batch of scenes.

Planning runs in batches of scenes (``plan_batches``): the screenplay is split at its
scene headings, and each request is bounded to ``context_tokens`` (prompt estimated at
~4 characters a token, plus its ``max_tokens``) and ``max_scenes_per_batch``; the batches'
plans are merged in story order. A 190-scene feature is never one oversized request.
"""

from __future__ import annotations

import functools
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


# Bounds the constrained decoders enforce (vLLM, llama.cpp); generous for real answers.
MAX_SHOTS_PER_SCENE = 6
MAX_NAMES = 12
MAX_CAST = 16
_LENGTHS = {"title": 120, "logline": 400, "screenplay": 24_000, "name": 60, "look": 700,
            "heading": 160, "summary": 500, "camera": 40, "description": 500,
            "dialogue": 400}
_BOUND_WORDS = ("maxitems", "minitems", "maxlength")


def _str(field: str, bounded: bool) -> dict[str, Any]:
    return {"type": "string", "maxLength": _LENGTHS[field]} if bounded else {"type": "string"}


def _name_list(bounded: bool) -> dict[str, Any]:
    names: dict[str, Any] = {"type": "array", "items": _str("name", bounded)}
    if bounded:
        names["maxItems"] = MAX_NAMES
    return names


def script_schema(*, bounded: bool = True) -> dict[str, Any]:
    cast: dict[str, Any] = {"type": "array", "items": _strict(
        {"name": _str("name", bounded), "look": _str("look", bounded)})}
    if bounded:
        cast["maxItems"] = MAX_CAST
    return _strict({"title": _str("title", bounded), "logline": _str("logline", bounded),
                    "screenplay": _str("screenplay", bounded), "characters": cast})


def plan_schema(scenes: int | None = None, *, bounded: bool = True) -> dict[str, Any]:
    """The scene plan's schema; ``scenes``: exactly that many scenes (one batch)."""
    shots: dict[str, Any] = {"type": "array", "items": _strict({
        "shot_type": {"type": "string", "enum": [t.value for t in ShotType]},
        "camera": _str("camera", bounded),
        "description": _str("description", bounded),
        "characters": _name_list(bounded),
        "dialogue": _str("dialogue", bounded),
    })}
    scene_list: dict[str, Any] = {"type": "array", "items": _strict({
        "heading": _str("heading", bounded),
        "summary": _str("summary", bounded),
        "characters": _name_list(bounded),
        "shots": shots,
    })}
    if bounded:
        shots.update(minItems=1, maxItems=MAX_SHOTS_PER_SCENE)
        scene_list["minItems"] = 1
        if scenes:
            scene_list.update(minItems=scenes, maxItems=scenes)
    return _strict({"scenes": scene_list})


SCRIPT_SCHEMA = script_schema()
PLAN_SCHEMA = plan_schema()

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

    def __init__(self, message: str, *, truncated: bool = False, looping: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated
        self.looping = looping


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
    if "choices" not in completion and (completion.get("error")
                                        or completion.get("object") == "error"):
        detail = completion.get("error") or completion.get("message") or completion
        raise StageError(f"the model server answered with an error: {detail}")
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


def looks_looping(text: str, *, tail: int = 600, min_repeats: int = 6) -> bool:
    """True when the end of ``text`` is one short piece repeated over and over (a model
    stuck in a loop), or one line of some length comes back again and again."""
    end = text[-tail:]
    if len(end) >= 120:
        for period in range(1, 81):
            if len(end) < period * min_repeats:
                break
            unit = end[-period:]
            if end.endswith(unit * min_repeats) and unit.strip():
                return True
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 20]
    if len(lines) >= min_repeats:
        counts: dict[str, int] = {}
        for line in lines:
            counts[line] = counts.get(line, 0) + 1
            if counts[line] >= min_repeats:
                return True
    return False


def extract_json(reply: Reply) -> Any:
    """The JSON object in a reply: bare, in a Markdown fence, or between other text."""
    text = _THINK.sub("", reply.content).strip()
    if not text:
        raise ReplyProblem("the reply was empty", truncated=reply.finish_reason == "length")
    if looks_looping(text):
        raise ReplyProblem("the reply repeats the same words over and over",
                           truncated=reply.finish_reason == "length", looping=True)
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


# Context-length refusals (vLLM's wording, old and new; OpenAI's is the old one).

_LIMIT = re.compile(r"maximum context length is (\d+) tokens", re.IGNORECASE)
_INPUT = re.compile(r"(?:request has|you requested) (\d+) (?:input )?tokens"
                    r"(?: \((\d+) in the messages, (\d+) in the completion\))?", re.IGNORECASE)
_MAX_TOKENS = re.compile(r"'max_tokens'[^:]*is too large: (\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ContextOverflow:
    limit: int
    input_tokens: int | None  # the prompt's tokens, when the message says


def context_overflow(detail: str) -> ContextOverflow | None:
    """The numbers of a context-length refusal, or None when ``detail`` is another error."""
    limit = _LIMIT.search(detail)
    if not limit:
        return None
    found = _INPUT.search(detail)
    input_tokens = None
    if found:
        if found.group(2) is not None:  # "you requested T tokens (N in the messages, ...)"
            input_tokens = int(found.group(2))
        elif _MAX_TOKENS.search(detail) or "input tokens" in found.group(0).casefold():
            input_tokens = int(found.group(1))
    return ContextOverflow(int(limit.group(1)), input_tokens)


class PromptTooLong(Exception):
    """The prompt alone (or with the least output worth asking for) exceeds the context."""

    def __init__(self, overflow: ContextOverflow) -> None:
        super().__init__(f"the model's context is {overflow.limit} tokens")
        self.overflow = overflow


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """A prompt's tokens, roughly: ~4 characters a token, plus a little per message."""
    return sum(len(m.get("content", "")) for m in messages) // 4 + 8 * len(messages)


# Splitting a screenplay into scenes, for batched planning.

_HEADING = re.compile(r"^(?:(?:INT|EXT|EST|INT\.?/EXT|I/E|E/I)[. ]|\.(?!\.)\S)", re.IGNORECASE)


def split_scenes(screenplay: str) -> list[str]:
    """The screenplay cut before each scene heading; text before the first heading stays
    with the first scene. A screenplay without headings is one piece."""
    lines = screenplay.strip().splitlines(keepends=True)
    pieces: list[list[str]] = [[]]
    for i, line in enumerate(lines):
        blank_before = i == 0 or not lines[i - 1].strip()
        if blank_before and _HEADING.match(line.strip()) and any(
                line.strip() for piece in pieces for line in piece):
            pieces.append([])
        pieces[-1].append(line)
    return ["".join(p).strip() for p in pieces if "".join(p).strip()]


def plan_batches(scenes: list[str], *, fixed_tokens: int, budget_tokens: int,
                 max_scenes: int,
                 output_tokens: Callable[[int], int] = lambda n: 0) -> list[list[str]]:
    """Consecutive scenes grouped so that each batch's estimated request stays within
    ``budget_tokens``: ``fixed_tokens`` for the instructions, ~4 characters a token of its
    scenes, and ``output_tokens(n)`` asked for n scenes; at most ``max_scenes`` a batch. A
    scene too long for any batch goes alone."""
    batches: list[list[str]] = []
    current: list[str] = []
    used = fixed_tokens
    for scene in scenes:
        cost = len(scene) // 4 + 1
        if current and (used + cost + output_tokens(len(current) + 1) > budget_tokens
                        or len(current) >= max_scenes):
            batches.append(current)
            current, used = [], fixed_tokens
        current.append(scene)
        used += cost
    if current:
        batches.append(current)
    return batches


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
        plan_tokens_per_scene: int = 700,
        context_tokens: int = 8192,
        max_scenes_per_batch: int = 8,
        min_output_tokens: int = 256,
    ) -> None:
        self.transport = transport
        self.name = name
        self.model = model
        self.max_repairs = max_repairs
        self.script_max_tokens = script_max_tokens
        self.plan_max_tokens = plan_max_tokens
        self.plan_tokens_per_scene = plan_tokens_per_scene
        self.context_tokens = context_tokens  # learnt from a context-length refusal
        self.max_scenes_per_batch = max_scenes_per_batch
        self.min_output_tokens = min_output_tokens
        self._format = "json_schema"  # "json_object", then "none", for servers refusing it
        self._refused: set[str] = set()  # schema bounds a server refused ("maxlength", ...)

    async def write_script(self, idea: Idea, *, seed: int, style: str | None) -> Script:
        messages = llm_prompts.script_messages(idea, style)
        try:
            return await self._ask(
                "script", messages, SCRIPT_FORMAT, script_schema, to_script,
                max_tokens=self.script_max_tokens, temperature=0.8, seed=seed)
        except PromptTooLong as exc:
            raise StageError(self._too_long("the idea", exc.overflow, messages)) from None

    async def plan_scenes(self, idea: Idea, script: Script, *, seed: int) -> list[ScenePlan]:
        scenes = split_scenes(script.screenplay) or [script.screenplay.strip()]
        pending = self._batches(script, scenes)
        plans: list[ScenePlan] = []
        done = 0
        while pending:
            batch = pending.pop(0)
            first = done + 1
            messages = llm_prompts.plan_messages(script, batch, first=first, total=len(scenes))
            max_tokens = self._plan_tokens(len(batch))
            schema = functools.partial(plan_schema, len(batch))
            try:
                batch_plans = await self._ask(
                    "scene plan" if len(scenes) == len(batch)
                    else f"scene plan of scenes {first}-{first + len(batch) - 1}",
                    messages, PLAN_FORMAT,
                    schema,
                    to_scene_plans, max_tokens=max_tokens, temperature=0.4, seed=seed)
            except PromptTooLong as exc:
                if len(batch) == 1:
                    raise StageError(self._too_long(f"scene {first}", exc.overflow,
                                                    messages)) from None
                log.info("writer %s: scenes %d-%d do not fit the model's context (%d "
                         "tokens); planning them in smaller batches", self.name, first,
                         first + len(batch) - 1, exc.overflow.limit)
                # The context is known now: batch what is left again, and at least halve
                # the batch that did not fit.
                pending = self._batches(script, [*batch, *(s for b in pending for s in b)])
                if len(pending[0]) >= len(batch):
                    head = pending.pop(0)
                    half = len(batch) // 2
                    pending[:0] = [head[:half], head[half:]]
                continue
            plans.extend(batch_plans)
            done += len(batch)
        for i, plan in enumerate(plans, 1):
            plan.scene.index = i
        return plans

    def _batches(self, script: Script, scenes: list[str]) -> list[list[str]]:
        per_batch = max(1, self.max_scenes_per_batch)
        fixed = estimate_tokens(llm_prompts.plan_messages(script, [], first=1,
                                                          total=len(scenes) + 1))
        return plan_batches(scenes, fixed_tokens=fixed, budget_tokens=self.context_tokens - 64,
                            max_scenes=per_batch, output_tokens=self._plan_tokens)

    def _plan_tokens(self, scenes: int) -> int:
        """A batch's ``max_tokens``: enough for its scenes, small enough that a looping
        reply is cut early."""
        return max(self.min_output_tokens,
                   min(self.plan_max_tokens, self.plan_tokens_per_scene * scenes + 200))

    def _too_long(self, what: str, overflow: ContextOverflow,
                  messages: list[dict[str, str]]) -> str:
        need = (overflow.input_tokens or estimate_tokens(messages)) + self.min_output_tokens
        return (f"{what} does not fit the writer's model: its context is {overflow.limit} "
                f"tokens and the request needs about {need}; serve the model with a larger "
                f"context (on worker-vllm, MAX_MODEL_LEN of at least 8192)")

    async def aclose(self) -> None:
        await self.transport.aclose()

    def request_body(
        self, messages: list[dict[str, str]], format_name: str,
        schema: dict[str, Any] | Callable[[bool], dict[str, Any]], *,
        max_tokens: int, temperature: float, seed: int,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model} if self.model else {}
        body.update(messages=messages, max_tokens=max_tokens, temperature=temperature,
                    seed=seed)
        if self._format == "json_schema":
            chosen = schema(bounded=True) if callable(schema) else schema
            if self._refused:
                chosen = _without(chosen, self._refused)
            body["response_format"] = response_format(format_name, chosen)
        elif self._format == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    async def _ask(
        self,
        what: str,
        messages: list[dict[str, str]],
        format_name: str,
        schema: dict[str, Any] | Callable[..., dict[str, Any]],
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
                fitted = self._fit_context(exc, conversation, max_tokens)
                if fitted is not None:
                    max_tokens = fitted
                    continue  # asked again with a max_tokens that fits; not a try
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
                if exc.looping or exc.truncated:  # cut a loop sooner the next time
                    max_tokens = max(self.min_output_tokens, max_tokens * 3 // 4)
        assert problem is not None
        reason = ("was cut off at the token limit" if problem.truncated and not problem.looping
                  else f"was unusable: {problem}")
        raise StageError(f"the writer ({self.name}) gave no usable {what} in {tries} tries; "
                         f"the last reply {reason}")

    def _fit_context(self, exc: RemoteError, messages: list[dict[str, str]],
                     max_tokens: int) -> int | None:
        """After a context-length refusal: a smaller ``max_tokens`` that fits, or
        ``PromptTooLong`` when even the least worth asking for does not."""
        if exc.status not in (400, 413, None):
            return None
        overflow = context_overflow(exc.detail)
        if overflow is None:
            return None
        self.context_tokens = min(self.context_tokens, overflow.limit)
        prompt = overflow.input_tokens or estimate_tokens(messages)
        room = overflow.limit - prompt - 16
        if room >= self.min_output_tokens and room < max_tokens:
            log.info("writer %s: the model's context is %d tokens; asking for %d tokens "
                     "instead of %d", self.name, overflow.limit, room, max_tokens)
            return room
        raise PromptTooLong(overflow)

    def _refuses_format(self, exc: RemoteError) -> bool:
        """A server that rejects ``json_schema`` (400 naming it) is asked without the
        schema's bounds when it names one of them, then with ``json_object``, then with
        no ``response_format``: the prompts describe the JSON too, and the validation and
        repair still guard the result."""
        detail = exc.detail.casefold()
        if exc.status != 400 or self._format == "none":
            return False
        named = {word for word in _BOUND_WORDS if word in detail} - self._refused
        if self._format == "json_schema" and named:
            self._refused |= named  # OpenAI's strict mode takes maxItems, not maxLength
            log.warning("writer %s: the server refused %s in the schema; asking without",
                        self.name, ", ".join(sorted(named)))
            return True
        if not any(word in detail for word in ("response_format", "json_schema", "json schema",
                                               "guided", "structured output", "grammar")):
            return False
        self._format = "json_object" if self._format == "json_schema" else "none"
        log.warning("writer %s: the server refused the response format; asking with %s",
                    self.name, self._format)
        return True


def _without(schema: Any, keywords: set[str]) -> Any:
    """``schema`` less the keywords named (compared without case), at every depth."""
    if isinstance(schema, dict):
        return {k: _without(v, keywords) for k, v in schema.items()
                if k.casefold() not in keywords or k == "properties"}
    if isinstance(schema, list):
        return [_without(v, keywords) for v in schema]
    return schema


def _repair_turn(problem: ReplyProblem, reply: Reply | None) -> list[dict[str, str]]:
    if problem.looping:
        return [{"role": "user", "content": llm_prompts.repair_looping()}]
    if problem.truncated or reply is None:
        return [{"role": "user", "content": llm_prompts.repair_truncated()
                 if problem.truncated else llm_prompts.repair_invalid(str(problem))}]
    content = reply.content if len(reply.content) <= 12_000 else reply.content[:12_000] + "…"
    return [{"role": "assistant", "content": content},
            {"role": "user", "content": llm_prompts.repair_invalid(str(problem))}]
