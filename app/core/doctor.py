"""Live checks of every configured part, for ``storyreel doctor`` and the settings dialog."""

from __future__ import annotations

import asyncio
from typing import Any

from app.core.errors import StoryreelError
from app.core.ideas import from_text
from app.core.services import Services

PROBE_KEY = "doctor/probe.bin"
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
        {"name": name, "mode": parts[name].mode, "detail": parts[name].detail,
         "ok": ok, "message": message}
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
    script = await services.writer.write_script(
        from_text("A lighthouse keeper sees a light at sea."), seed=1, style=None)
    return f"wrote a test script ({script.title!r})"


async def _check_renderer(services: Services) -> str:
    return f"{services.renderer.name} ready"


async def _check_storage(services: Services) -> str:
    store = services.store
    data = b"storyreel doctor probe"
    await store.put(PROBE_KEY, data, "application/octet-stream")
    back = await store.get_bytes(PROBE_KEY)
    await store.delete_many([PROBE_KEY])
    if back != data:
        raise StoryreelError("the probe object came back different")
    return "wrote, read and deleted a probe object"


async def _check_history(services: Services) -> str:
    count = await services.history.count_runs()
    return f"{count} run{'s' if count != 1 else ''} in history"
