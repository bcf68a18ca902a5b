"""A fake OpenAI-compatible chat-completions server (aiohttp on 127.0.0.1).

``POST {base_url}/chat/completions`` answers with the ``FakeLLM``'s completion.
``api_key=None`` accepts any caller (like a local Ollama); otherwise the
Bearer key must match (401). ``inject(status, times, retry_after)`` answers
the next requests with an error instead.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from aiohttp import web

from tests.fakes.chat import FakeLLM
from tests.fakes.local_server import LocalServer


class FakeOpenAI(LocalServer):
    PREFIX = "/v1"

    def __init__(self, llm: FakeLLM | None = None, *, api_key: str | None = None) -> None:
        super().__init__()
        self.llm = llm or FakeLLM()
        self.api_key = api_key
        self.requests = 0
        self.auth_headers: list[str | None] = []
        self._faults: deque[tuple[int, float | None, Any]] = deque()

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/chat/completions", self._complete)]

    def inject(self, status: int, *, times: int = 1, retry_after: float | None = None,
               body: Any = None) -> None:
        self._faults.extend((status, retry_after, body) for _ in range(times))

    async def _complete(self, request: web.Request) -> web.Response:
        self.requests += 1
        auth = request.headers.get("Authorization")
        self.auth_headers.append(auth)
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "Incorrect API key provided",
                                                "type": "invalid_request_error"}}, status=401)
        if self._faults:
            status, retry_after, body = self._faults.popleft()
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return web.json_response(body or {"error": {"message": f"injected {status}"}},
                                     status=status, headers=headers)
        return web.json_response(self.llm(await request.json()))
