"""Waiting in tests for a state that another task brings about, with a bound against hangs."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], *, what: str = "the condition",
    limit_s: float = 10.0, step_s: float = 0.002,
) -> None:
    """Return once ``condition()`` (sync or async) is true; fail the test after ``limit_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(step_s)
