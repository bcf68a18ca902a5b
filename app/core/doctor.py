"""Live checks of every configured part, for ``storyreel doctor`` and the settings dialog.

Every message passes through ``urls.redact``: an error text from a library
(aiohttp embeds full URLs) never shows a user name, password, path or query.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from app.core.errors import StoryreelError
from app.core.ideas import from_text
from app.core.services import Services
from app.core.settings import Settings
from app.core.urls import display_url, redact

PROBE_PREFIX = "doctor/probe-"
CHECK_TIMEOUT_S = 15.0


async def check_all(services: Services) -> list[dict[str, Any]]:
    parts = {p.name: p for p in services.settings.parts()}
    checks = {
        "writer": _check_writer(services),
        "renderer": _check_renderer(services),
        "storage": _check_storage(services),
        "history": _check_history(services),
    }
    results = await asyncio.gather(*(_timed(c) for c in checks.values()))
    return [
        {"name": name, "mode": parts[name].mode, "detail": redact(parts[name].detail),
         "ok": ok, "message": redact(message)}
        for name, (ok, message) in zip(checks, results, strict=True)
    ]


async def _timed(check) -> tuple[bool, str]:
    try:
        return True, await asyncio.wait_for(check, CHECK_TIMEOUT_S)
    except TimeoutError:
        return False, f"no answer within {CHECK_TIMEOUT_S:.0f} s"
    except StoryreelError as exc:
        return False, str(exc)
    except Exception as exc:  # a check must report, never crash doctor
        return False, f"{type(exc).__name__}: {exc}"


async def _check_writer(services: Services) -> str:
    settings = services.settings
    if settings.runpod_writer_endpoint:
        return await _runpod_health(settings, settings.runpod_writer_endpoint)
    if settings.writer_base_url:
        return await _openai_models(settings)
    script = await services.writer.write_script(
        from_text("A lighthouse keeper sees a light at sea."), seed=1, style=None)
    return f"wrote a test script ({script.title!r})"


async def _check_renderer(services: Services) -> str:
    settings = services.settings
    if settings.runpod_shot_endpoint:
        return await _runpod_health(settings, settings.runpod_shot_endpoint)
    return f"{services.renderer.name} ready"


async def _runpod_health(settings: Settings, endpoint: str) -> str:
    from app.core.runpod import RunPodClient

    assert settings.runpod_api_key is not None  # settings refuse an endpoint without a key
    client = RunPodClient(settings.runpod_api_key, base_url=settings.runpod_base_url)
    try:
        return (await client.health(endpoint)).summary()
    finally:
        await client.aclose()


async def _openai_models(settings: Settings) -> str:
    """GET {base}/models: the server answers, the key is accepted, the model is there."""
    import aiohttp

    headers, auth = {}, None
    if settings.writer_api_key is not None:
        headers["Authorization"] = f"Bearer {settings.writer_api_key.get_secret_value()}"
    elif settings.writer_password is not None:  # settings refuse both at once
        auth = aiohttp.BasicAuth(settings.writer_user or "",
                                 settings.writer_password.get_secret_value())
    url = f"{settings.writer_base_url}/models"
    shown = display_url(url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.get(url, headers=headers, auth=auth) as response:
                if response.status in (401, 403):
                    refused = ("WRITER_API_KEY" if auth is None
                               else "the password in WRITER_BASE_URL")
                    raise StoryreelError(f"the writer server refused {refused}")
                if response.status >= 400:
                    raise StoryreelError(f"{shown} answered HTTP {response.status}")
                body = await response.json(content_type=None)
    except aiohttp.ClientError as exc:
        raise StoryreelError(f"cannot reach {shown}: {exc.__class__.__name__}") from None
    models = [m.get("id") for m in (body or {}).get("data", []) if isinstance(m, dict)]
    if settings.writer_model not in models:
        return f"reachable, but {settings.writer_model!r} is not in its model list"
    return f"reachable, model {settings.writer_model!r} available"


async def _check_storage(services: Services) -> str:
    store = services.store
    await store.check()
    data = b"storyreel doctor probe"
    key = f"{PROBE_PREFIX}{secrets.token_hex(6)}.bin"  # checks at the same time never collide
    await store.put(key, data, "application/octet-stream")
    back = await store.get_bytes(key)
    await store.delete_many([key])
    if back != data:
        raise StoryreelError("the probe object came back different")
    return "wrote, read and deleted a probe object"


async def _check_history(services: Services) -> str:
    reason = getattr(services.history, "reason", None)
    if reason:
        raise StoryreelError(f"unavailable: {reason}")
    count = await services.history.count_runs()
    return f"{count} run{'s' if count != 1 else ''} in history"
