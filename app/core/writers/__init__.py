"""Writers turn an idea into a script and the script into a scene plan.

Implementations: ``draft`` (offline, deterministic, the embedded default);
cloud writers (RunPod vLLM, any OpenAI-compatible server) plug in here too.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from app.core.ideas import Idea
from app.core.models import ScenePlan, Script


@runtime_checkable
class Writer(Protocol):
    name: str
    """Short description for status lines, e.g. ``draft (offline)``."""

    async def write_script(self, idea: Idea, *, seed: int, style: str | None) -> Script:
        """Stage 1: title, logline, Fountain screenplay and cast."""
        ...

    async def plan_scenes(self, idea: Idea, script: Script, *, seed: int) -> list[ScenePlan]:
        """Stage 2: scenes in story order, each with its shots in order.

        Raises ``StageError`` when no usable plan can be made.
        """
        ...

    async def aclose(self) -> None: ...
