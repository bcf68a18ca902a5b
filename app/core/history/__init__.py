"""Run history: every run, with every shot, job id, status, timing and error.

One interface, several stores: ``memory`` (tests), ``files`` (an append-only log
per run under ``STORYREEL_HOME``), and MongoDB (embedded or a real server).
Shots are stored one record per shot, beside their run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from app.core.models import Run, Shot


@runtime_checkable
class HistoryStore(Protocol):
    kind: str
    """Short description for status lines, e.g. ``files (local)``."""

    async def create_run(self, run: Run) -> None: ...

    async def update_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        """Set top-level fields of the run document (values as ``model_dump(mode='json')``)."""
        ...

    async def upsert_shot(self, shot: Shot) -> None: ...

    async def get_run(self, run_id: str) -> Run:
        """The run with its shots in story order. Raises ``RunNotFound``."""
        ...

    async def list_runs(
        self, *, limit: int = 20, before: datetime | None = None, search: str | None = None
    ) -> list[Run]:
        """Runs newest first, without their shots; ``before`` pages by creation time."""
        ...

    async def count_runs(self, *, search: str | None = None) -> int: ...

    async def find_unfinished(self) -> list[Run]:
        """Runs whose status is still ``running`` (a crash or a closed app left them)."""
        ...

    async def delete_run(self, run_id: str) -> bool: ...

    async def aclose(self) -> None: ...


def search_words(search: str | None) -> list[str]:
    """The words a search must all find (case-insensitive) in a run's title or idea."""
    return [w.casefold() for w in (search or "").split()]


def matches(run: Run, words: list[str]) -> bool:
    haystack = f"{run.title}\n{run.idea}".casefold()
    return all(w in haystack for w in words)
