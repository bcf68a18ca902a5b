"""The writer on any OpenAI-compatible server: a local Ollama or vLLM, OpenAI itself.

``POST {WRITER_BASE_URL}/chat/completions`` with ``Authorization: Bearer
{WRITER_API_KEY}`` when a key is set, or HTTP Basic auth with the
``user:password@`` that WRITER_BASE_URL held (taken out of the URL; never both).
429, 5xx and connection errors are retried with jittered backoff (``Retry-After``
honoured); anything else is a ``RemoteError`` with a readable detail, never the
key, and a URL only as scheme, host and port.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pydantic import SecretStr

from app.core.errors import ConfigError, RemoteError
from app.core.runpod import RetryPolicy, retry_after_seconds
from app.core.settings import Settings
from app.core.urls import display_host, display_url, split_credentials
from app.core.writers.llm import LLMWriter

log = logging.getLogger(__name__)


class OpenAICompatTransport:
    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | str | None = None,
        *,
        basic_auth: tuple[str, str] | None = None,
        timeout_s: float = 600.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        base_url, credentials = split_credentials(base_url)
        credentials = credentials or basic_auth
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._key = SecretStr(key) if key else None
        if credentials and self._key is not None:
            raise ConfigError("WRITER_BASE_URL holds a user name and password and "
                              "WRITER_API_KEY is set too: keep one of them")
        self._auth = aiohttp.BasicAuth(*credentials) if credentials else None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=10)
        self.retry = retry or RetryPolicy(attempts=4)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"OpenAICompatTransport(base_url={display_url(self.base_url)!r})"

    async def complete(self, body: dict[str, Any]) -> Any:
        failures = 0
        while True:
            retry_after = None
            try:
                async with self._ensure_session().post(self.url, json=body) as resp:
                    status, text = resp.status, await resp.text(errors="replace")
                    retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, problem = None, f"no answer ({type(exc).__name__})"
            else:
                if 200 <= status < 300:
                    try:
                        return json.loads(text)
                    except ValueError:
                        raise RemoteError(status, self.url, "the answer is not JSON") from None
                if status in (401, 403):
                    raise RemoteError(status, self.url, "the writer API key was refused; check "
                                      "WRITER_API_KEY")
                problem = f"HTTP {status}: {self._detail(text)}"
                if status != 429 and status < 500:
                    raise RemoteError(status, self.url, problem)
            failures += 1
            if failures >= self.retry.attempts:
                raise RemoteError(status, self.url, f"{problem}; gave up after {failures} tries")
            delay = self.retry.delay(failures, self._rng)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.retry.max_retry_after_s))
            log.info("writer: %s: %s; retrying in %.2f s", display_url(self.url), problem,
                     delay)
            await self._sleep(delay)

    def _detail(self, text: str) -> str:
        try:
            doc = json.loads(text)
        except ValueError:
            detail = text
        else:
            err = doc.get("error", doc) if isinstance(doc, dict) else doc
            detail = err.get("message", err) if isinstance(err, dict) else err
        detail = " ".join(str(detail).split())
        for secret in (self._key.get_secret_value() if self._key is not None else "",
                       self._auth.password if self._auth is not None else ""):
            if secret:
                detail = detail.replace(secret, "***")
        return detail[:300] or "(no detail)"

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Accept": "application/json"}
            if self._key is not None:
                headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=headers,
                                                  auth=self._auth)
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


class OpenAICompatWriter(LLMWriter):
    """``Writer`` on an OpenAI-compatible chat-completions server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | str | None = None,
        *,
        basic_auth: tuple[str, str] | None = None,
        timeout_s: float = 600.0,
        max_repairs: int = 2,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        transport = OpenAICompatTransport(base_url, api_key, basic_auth=basic_auth,
                                          timeout_s=timeout_s, retry=retry, sleep=sleep)
        host = display_host(base_url)
        super().__init__(transport, name=f"OpenAI-compatible {model} at {host}", model=model,
                         max_repairs=max_repairs)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> OpenAICompatWriter:
        """From ``WRITER_BASE_URL``, ``WRITER_MODEL`` and (optional) ``WRITER_API_KEY``."""
        if not settings.writer_base_url or not settings.writer_model:
            raise ConfigError("the OpenAI-compatible writer needs WRITER_BASE_URL and "
                              "WRITER_MODEL")
        basic_auth = None
        if settings.writer_password is not None:  # the user:password@ of WRITER_BASE_URL
            basic_auth = (settings.writer_user or "", settings.writer_password.get_secret_value())
        return cls(settings.writer_base_url, settings.writer_model, settings.writer_api_key,
                   basic_auth=basic_auth, **kwargs)
