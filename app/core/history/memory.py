"""History kept in memory: for tests and benchmarks; the reference the contract suite
holds every other store to."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from app.core.errors import RunNotFound
from app.core.history import (
    DayUsage,
    PageCursor,
    listing_key,
    loaded_order,
    matches,
    search_words,
    usage_of,
)
from app.core.models import Run, RunOwner, RunStatus, Shot


class MemoryHistory:
    kind = "memory"

    def __init__(self) -> None:
        self._runs: dict[str, dict[str, Any]] = {}
        self._shots: dict[str, dict[str, dict[str, Any]]] = {}
        self.writes = 0  # how many writes reached the store (tests look at it)

    async def create_run(self, run: Run) -> None:
        doc = run.model_dump(mode="json")
        doc["owner"] = run.owner.model_dump(mode="json") if run.owner else None
        self._apply_create(doc)

    async def update_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        self._apply_update(run_id, dict(fields))

    async def upsert_shot(self, shot: Shot) -> None:
        self._apply_shot(shot.model_dump(mode="json"))

    async def get_run(self, run_id: str) -> Run:
        return self._load(run_id)

    async def delete_shot(self, run_id: str, shot_id: str) -> None:
        self.writes += 1
        self._shots.get(run_id, {}).pop(shot_id, None)

    async def list_runs(
        self, *, limit: int = 20, before: datetime | PageCursor | None = None,
        search: str | None = None,
    ) -> list[Run]:
        runs = self._select(search)
        if isinstance(before, PageCursor):
            bound = listing_key(before.created_at, before.run_id)
            runs = [r for r in runs if listing_key(r.created_at, r.run_id) < bound]
        elif before is not None:
            time_bound = listing_key(before)[0]
            runs = [r for r in runs if listing_key(r.created_at)[0] < time_bound]
        return runs[:limit]

    async def count_runs(self, *, search: str | None = None) -> int:
        return len(self._select(search))

    async def find_unfinished(self) -> list[Run]:
        return [r for r in self._select(None) if r.status is RunStatus.RUNNING]

    async def delete_run(self, run_id: str) -> bool:
        self._shots.pop(run_id, None)
        return self._runs.pop(run_id, None) is not None

    async def usage_totals(self, *, since: date | None = None) -> list[DayUsage]:
        return usage_of(self._select(None), since)

    async def run_owner(self, run_id: str) -> RunOwner | None:
        return self._load(run_id).owner

    async def claim_run(self, run_id: str, owner: RunOwner, *,
                        previous: RunOwner | None) -> bool:
        doc = self._runs.get(run_id)
        if doc is None:
            return False
        current = doc.get("owner")
        if previous is None:
            if current is not None:
                return False
        elif current is None or (current["token"], current["heartbeat_ms"]) != (
                previous.token, previous.heartbeat_ms):
            return False
        self._set_owner(doc, owner)
        return True

    async def renew_run_owner(self, run_id: str, owner: RunOwner) -> bool:
        doc = self._runs.get(run_id)
        if doc is None or (doc.get("owner") or {}).get("token") != owner.token:
            return False
        self._set_owner(doc, owner)
        return True

    async def release_run(self, run_id: str, token: str) -> bool:
        doc = self._runs.get(run_id)
        if doc is None or (doc.get("owner") or {}).get("token") != token:
            return False
        self._set_owner(doc, None)
        return True

    async def aclose(self) -> None:
        return None

    def _set_owner(self, doc: dict[str, Any], owner: RunOwner | None) -> None:
        self.writes += 1
        doc["owner"] = owner.model_dump(mode="json") if owner else None

    # The state changes.

    def _apply_create(self, doc: dict[str, Any]) -> None:
        self.writes += 1
        self._runs[doc["run_id"]] = doc
        self._shots.setdefault(doc["run_id"], {})

    def _apply_update(self, run_id: str, fields: dict[str, Any]) -> None:
        self.writes += 1
        if run_id not in self._runs:
            raise RunNotFound(run_id)
        self._runs[run_id].update(fields)

    def _apply_shot(self, doc: dict[str, Any]) -> None:
        self.writes += 1
        self._shots.setdefault(doc["run_id"], {})[doc["shot_id"]] = doc

    def _load(self, run_id: str) -> Run:
        if run_id not in self._runs:
            raise RunNotFound(run_id)
        run = Run.model_validate(self._runs[run_id])
        shots = [Shot.model_validate(d) for d in self._shots.get(run_id, {}).values()]
        run.shots = loaded_order(shots)
        return run

    def _select(self, search: str | None) -> list[Run]:
        words = search_words(search)
        runs = [Run.model_validate(d) for d in self._runs.values()]
        runs = [r for r in runs if matches(r, words)]
        return sorted(runs, key=lambda r: listing_key(r.created_at, r.run_id), reverse=True)
