"""A fake worker-vllm: the handler a RunPod vLLM endpoint runs, plugged into ``FakeRunPod``.

It answers ``{"openai_route": "/v1/chat/completions", "openai_input": body}`` with a
``FakeLLM`` completion, and fails the way the real one does (worker-vllm's
``src/handler.py`` and, before it, ``src/engine.py``; vLLM's OpenAI server):

- the prompt is counted at ~4 characters a token; a prompt of ``max_model_len`` tokens
  or more, or a prompt plus ``max_tokens`` over it, is refused with vLLM's own words
  (``context_message``), as a 400;
- ``refuse_bounds`` / ``refuse_json_schema``: a 400 as an OpenAI-strict server gives for
  a schema keyword it does not take, or a server with no structured output;
- ``fail_next(status, message)``: the next requests fail so (503, 500, ...).

How an error reaches the job (``style``):

- ``"proxy"`` (worker-vllm today): yields ``{"error": {"message": "vLLM returned HTTP
  400: <vLLM's JSON body>", "type": "worker_error", "code": None}}``;
- ``"engine"`` (worker-vllm with vLLM's ErrorResponse in-process): yields
  ``{"error": {"message", "type": "BadRequestError", "param", "code": 400}}``;
- ``"old"`` (an older vLLM): yields ``{"object": "error", "message", "type", "param",
  "code"}``, which has no ``error`` key, so runpod reports a COMPLETED job.

It is a ``GeneratorHandler``: runpod's loop turns the first two into a FAILED job whose
``error`` is ``str()`` of the error object, with no status field.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from tests.fakes.chat import FakeLLM
from tests.fakes.runpod_server import GeneratorHandler

_TYPES = {400: "BadRequestError", 404: "NotFoundError", 500: "InternalServerError",
          503: "ServiceUnavailableError"}


def prompt_tokens(body: dict[str, Any]) -> int:
    return sum(len(m.get("content", "")) for m in body.get("messages", [])) // 4 + 8


def context_message(max_model_len: int, prompt: int, max_tokens: int | None) -> str | None:
    """vLLM's refusal of a request that does not fit (serving_engine's wording)."""
    if prompt >= max_model_len:
        return (f"This model's maximum context length is {max_model_len} tokens. However, "
                f"your request has {prompt} input tokens. Please reduce the length of the "
                "input messages.")
    if max_tokens is not None and prompt + max_tokens > max_model_len:
        return (f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This "
                f"model's maximum context length is {max_model_len} tokens and your request "
                f"has {prompt} input tokens ({max_tokens} > {max_model_len} - {prompt}).")
    return None


class FakeVllmWorker:
    def __init__(self, llm: FakeLLM | None = None, *, style: str = "proxy",
                 max_model_len: int = 32768, refuse_bounds: bool = False,
                 refuse_json_schema: bool = False, as_list: bool = True) -> None:
        self.llm = llm or FakeLLM()
        self.style = style
        self.max_model_len = max_model_len
        self.refuse_bounds = refuse_bounds
        self.refuse_json_schema = refuse_json_schema
        self.as_list = as_list
        self.bodies: list[dict[str, Any]] = []  # every request, refused ones too
        self._faults: deque[tuple[int, str]] = deque()

    def handler(self) -> GeneratorHandler:
        return GeneratorHandler(self._handle)

    def fail_next(self, status: int, message: str, *, times: int = 1) -> None:
        self._faults.extend((status, message) for _ in range(times))

    def _handle(self, job_input: Any):
        body = job_input.get("openai_input")
        if not body:
            yield {"error": {"message": "Job input must contain one of: openai_input "
                             "(+openai_route), route (+body), or prompt/messages.",
                             "type": "worker_error", "code": None}}
            return
        self.bodies.append(body)
        refusal = self._refusal(body)
        if refusal is not None:
            yield self._error(*refusal)
            return
        yield self.llm(body)

    def _refusal(self, body: dict[str, Any]) -> tuple[int, str] | None:
        if self._faults:
            return self._faults.popleft()
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            if self.refuse_json_schema:
                return 400, "response_format type json_schema is not supported"
            schema = json.dumps(fmt.get("json_schema", {}).get("schema", {}))
            if self.refuse_bounds and "maxLength" in schema:
                return 400, ("Invalid schema for response_format 'x': In context=('properties',"
                             " 'title'), 'maxLength' is not permitted.")
        message = context_message(self.max_model_len, prompt_tokens(body),
                                  body.get("max_tokens"))
        return (400, message) if message else None

    def _error(self, status: int, message: str) -> dict[str, Any]:
        info = {"message": message, "type": _TYPES.get(status, "BadRequestError"),
                "param": None, "code": status}
        if self.style == "old":
            return {"object": "error", **info}
        if self.style == "engine":
            return {"error": info}
        detail = json.dumps({"error": info})
        return {"error": {"message": f"vLLM returned HTTP {status}: {detail}",
                          "type": "worker_error", "code": None}}
