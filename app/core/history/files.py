"""History in local files: one append-only JSON Lines log per run.

A placeholder until the MongoDB store lands, but a durable one: every change
is one appended line, written before the call returns, so history survives
between commands and after a crash (a torn last line is ignored on reading).
Reads replay the logs, so another process sees changes as they are made.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from app.core.errors import HistoryError, RunNotFound
from app.core.history import DayUsage
from app.core.history.memory import MemoryHistory
from app.core.models import Run, Shot

log = logging.getLogger(__name__)


class FileHistory:
    kind = "files (local)"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = asyncio.Lock()  # keeps appends in call order

    def _log_path(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
            raise RunNotFound(run_id)
        return self.folder / f"{run_id}.jsonl"

    async def _append(self, run_id: str, record: dict[str, Any], *, must_exist: bool) -> None:
        path = self._log_path(run_id)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        async with self._lock:
            await asyncio.to_thread(_append_line, path, line, must_exist)

    async def create_run(self, run: Run) -> None:
        await self._append(
            run.run_id, {"op": "create", "run": run.model_dump(mode="json")}, must_exist=False
        )

    async def update_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        await self._append(run_id, {"op": "update", "fields": dict(fields)}, must_exist=True)

    async def upsert_shot(self, shot: Shot) -> None:
        await self._append(
            shot.run_id, {"op": "shot", "shot": shot.model_dump(mode="json")}, must_exist=True
        )

    async def get_run(self, run_id: str) -> Run:
        return (await asyncio.to_thread(self._replay, [self._log_path(run_id)]))._load(run_id)

    async def list_runs(
        self, *, limit: int = 20, before: datetime | None = None, search: str | None = None
    ) -> list[Run]:
        memory = await asyncio.to_thread(self._replay_all)
        return await memory.list_runs(limit=limit, before=before, search=search)

    async def count_runs(self, *, search: str | None = None) -> int:
        return await (await asyncio.to_thread(self._replay_all)).count_runs(search=search)

    async def find_unfinished(self) -> list[Run]:
        return await (await asyncio.to_thread(self._replay_all)).find_unfinished()

    async def delete_run(self, run_id: str) -> bool:
        path = self._log_path(run_id)
        async with self._lock:
            try:
                await asyncio.to_thread(path.unlink)
            except FileNotFoundError:
                return False
        return True

    async def usage_totals(self, *, since: date | None = None) -> list[DayUsage]:
        return await (await asyncio.to_thread(self._replay_all)).usage_totals(since=since)

    async def aclose(self) -> None:
        return None

    def _replay_all(self) -> MemoryHistory:
        paths = sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []
        return self._replay(paths)

    def _replay(self, paths: list[Path]) -> MemoryHistory:
        memory = MemoryHistory()
        for path in paths:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise HistoryError(f"cannot read history file {path}: {exc.strerror}") from None
            for number, line in enumerate(lines, 1):
                try:
                    record = json.loads(line)
                    op = record["op"]
                    if op == "create":
                        memory._apply_create(record["run"])
                    elif op == "update":
                        memory._apply_update(path.stem, record["fields"])
                    elif op == "shot":
                        memory._apply_shot(record["shot"])
                except (ValueError, KeyError, TypeError, RunNotFound):
                    # A torn last line after a crash is expected; anything else is worth a word.
                    if number != len(lines):
                        log.warning("skipped unreadable line %d of %s", number, path.name)
        return memory


def _append_line(path: Path, line: str, must_exist: bool) -> None:
    if must_exist and not path.exists():
        raise RunNotFound(path.stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("a+b") as f:
            if f.tell() > 0:  # after a crash the log may end in a torn line: start a fresh one
                f.seek(-1, 2)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode("utf-8"))
    except OSError as exc:
        raise HistoryError(f"cannot write history file {path}: {exc.strerror}") from None
