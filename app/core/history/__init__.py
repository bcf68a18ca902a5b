"""Run history: every run, with every shot, job id, status, timing and error.

One interface, two stores: ``memory`` (tests and benchmarks) and MongoDB
(``mongo.py``: the embedded nx-27017 server by default, or any real server).
Shots are stored one record per shot, beside their run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable

from app.core.models import Run, RunOwner, Shot


@dataclass(frozen=True)
class PageCursor:
    """Where a page of the listing ended: the next page starts after this run. Runs are
    listed by creation time then run id, newest first, so runs created in the same
    millisecond are neither skipped nor listed twice."""

    created_at: datetime
    run_id: str

    @classmethod
    def after(cls, run: Run) -> PageCursor:
        return cls(run.created_at, run.run_id)


def listing_key(created_at: datetime, run_id: str = "") -> tuple[datetime, str]:
    """Where a run sorts in the listing: its creation time as stores keep it (UTC,
    floored to the millisecond, as BSON dates are), then its run id."""
    at = created_at.astimezone(UTC) if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000), run_id


def board_order(shots: Iterable[Shot]) -> list[Shot]:
    """Shots in board order: by scene, then index, ties broken by shot id."""
    return sorted(shots, key=lambda s: (s.scene, s.index, s.shot_id))


def loaded_order(shots: Iterable[Shot]) -> list[Shot]:
    """Shots as a store loads them: in board order, and in a scene where two shots share an
    index, numbers (``number``) given again by place, 1A, 1B, ... Board edits renumber a
    scene one shot document at a time (no array holds the order), so a process killed in
    the middle may leave two shots with one index (or a gap, which is harmless); loaded
    through here, that board still shows every shot once, each with its own number, always
    in the same order. ``index`` keeps what the document says, so the next edit that
    renumbers the scene (``app.core.board``) sees those shots out of place and writes them,
    and an edit that does not (or the pipeline) writes them back as they were."""
    from app.core.models import shot_number

    ordered = board_order(shots)
    seen: set[tuple[int, int]] = set()
    tied: set[int] = set()
    for shot in ordered:
        if shot.order in seen:
            tied.add(shot.scene)
        seen.add(shot.order)
    places: dict[int, int] = {}
    for shot in ordered:
        if shot.scene in tied:
            places[shot.scene] = place = places.get(shot.scene, 0) + 1
            shot.number = shot_number(shot.scene, place)
    return ordered


@dataclass(frozen=True)
class DayUsage:
    """What one UTC day of runs used: runs started that day and their shots."""

    day: str  # YYYY-MM-DD, the UTC day the runs were created
    runs: int
    shots: int  # shots planned
    shots_done: int
    shots_failed: int
    gpu_seconds: float


@runtime_checkable
class HistoryStore(Protocol):
    kind: str
    """Short description for status lines, e.g. ``embedded (/home/me/.local/share/...)``."""

    async def create_run(self, run: Run) -> None: ...

    async def update_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        """Set top-level fields of the run document (values as ``model_dump(mode='json')``)."""
        ...

    async def upsert_shot(self, shot: Shot) -> None: ...

    async def get_run(self, run_id: str) -> Run:
        """The run with its shots in board order (``board_order``). Raises ``RunNotFound``."""
        ...

    async def delete_shot(self, run_id: str, shot_id: str) -> None:
        """Delete one shot's document (a board edit); nothing when there is none."""
        ...

    async def list_runs(
        self, *, limit: int = 20, before: datetime | PageCursor | None = None,
        search: str | None = None,
    ) -> list[Run]:
        """Runs newest first (by creation time, then run id), without their shots.
        ``before``: a time (runs created strictly before it) or, to page, the cursor of
        the last run of the previous page (``PageCursor.after(run)``)."""
        ...

    async def count_runs(self, *, search: str | None = None) -> int: ...

    async def find_unfinished(self) -> list[Run]:
        """Runs whose status is still ``running`` (a crash or a closed app left them)."""
        ...

    async def delete_run(self, run_id: str) -> bool:
        """Delete the run and its shots; False when there was no such run."""
        ...

    async def usage_totals(self, *, since: date | None = None) -> list[DayUsage]:
        """Per UTC day of creation (oldest first, from the day ``since`` on): runs, shots
        and GPU seconds. Whole days only, so no day's totals are ever partial."""
        ...

    # Ownership (see ``app.core.ownership``): one atomic conditional update each.

    async def run_owner(self, run_id: str) -> RunOwner | None:
        """Who holds the run now (None: nobody). Raises ``RunNotFound``."""
        ...

    async def claim_run(self, run_id: str, owner: RunOwner, *,
                        previous: RunOwner | None) -> bool:
        """Make ``owner`` the run's owner if its owner is still ``previous`` (None: no
        owner; else the same token and the same heartbeat). False when it changed."""
        ...

    async def renew_run_owner(self, run_id: str, owner: RunOwner) -> bool:
        """Write ``owner`` (a newer heartbeat) if ``owner.token`` still holds the run.
        False when someone else took the run over, or it is gone."""
        ...

    async def release_run(self, run_id: str, token: str) -> bool:
        """Clear the owner if ``token`` still holds the run."""
        ...

    async def aclose(self) -> None: ...


def search_words(search: str | None) -> list[str]:
    """The words a search must all find (case-insensitive) in a run's title, its idea or
    the prompts of its shots."""
    return [w.casefold() for w in (search or "").split()]


def matches(run: Run, words: list[str]) -> bool:
    haystack = f"{run.title}\n{run.idea}\n{run.prompt_words}".casefold()
    return all(w in haystack for w in words)


def usage_of(runs: Iterable[Run], since: date | None = None) -> list[DayUsage]:
    """Usage totals computed in Python, for the stores that hold runs in memory."""
    first = since.isoformat() if since is not None else ""
    days: dict[str, list[Run]] = {}
    for run in runs:
        day = run.created_at.astimezone(UTC).strftime("%Y-%m-%d")
        if day >= first:
            days.setdefault(day, []).append(run)
    return [
        DayUsage(
            day=day,
            runs=len(group),
            shots=sum(r.shot_count for r in group),
            shots_done=sum(r.shots_done for r in group),
            shots_failed=sum(r.shots_failed for r in group),
            gpu_seconds=round(sum(r.gpu_seconds for r in group), 3),
        )
        for day, group in sorted(days.items())
    ]
