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


class FakeOpenAI:
    def __init__(self, llm: FakeLLM | None = None, *, api_key: str | None = None) -> None:
        self.llm = llm or FakeLLM()
        self.api_key = api_key
        self.requests = 0
        self.auth_headers: list[str | None] = []
        self._faults: deque[tuple[int, float | None, Any]] = deque()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> FakeOpenAI:
        app = web.Application()
        app.add_routes([web.post("/v1/chat/completions", self._complete)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

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
