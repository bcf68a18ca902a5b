"""The objects of runs in a blob store: deleting a run's images, finding orphans.

Every image of a run lives under ``runs/<run_id>/`` (see ``app.core.renderers``).
Deleting a run may delete that prefix, after the UI has asked. An orphan is an
object under ``runs/`` whose run is not in history (the run was deleted from
another machine, or history was reset); objects outside ``runs/`` are not ours
to judge and are never reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.core.errors import StorageError
from app.core.storage import BlobStore, check_key

RUNS_PREFIX = "runs/"


def run_prefix(run_id: str) -> str:
    """``runs/<run_id>/``, refusing ids that are not one plain key part."""
    if "/" in run_id:
        raise StorageError(f"invalid run id {run_id!r}: it must not contain '/'")
    check_key(run_id)
    return f"{RUNS_PREFIX}{run_id}/"


async def delete_run_objects(store: BlobStore, run_id: str) -> int:
    """Delete every object of ``run_id``; returns how many objects were deleted."""
    keys = await store.list(run_prefix(run_id))
    if not keys:
        return 0
    return await store.delete_many(keys)


@dataclass(frozen=True)
class Orphans:
    """Objects under ``runs/`` whose run is unknown, grouped by run id."""

    by_run: dict[str, list[str]] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[str]:
        return sorted(self.by_run)

    @property
    def keys(self) -> list[str]:
        return [key for run_id in self.run_ids for key in self.by_run[run_id]]

    def __bool__(self) -> bool:
        return bool(self.by_run)


async def find_orphans(store: BlobStore, known_run_ids: Iterable[str]) -> Orphans:
    """List ``runs/`` and keep the objects whose run id is not in ``known_run_ids``."""
    known = set(known_run_ids)
    by_run: dict[str, list[str]] = {}
    for key in await store.list(RUNS_PREFIX):
        run_id, sep, _rest = key[len(RUNS_PREFIX):].partition("/")
        if not sep or not run_id or run_id in known:
            continue
        by_run.setdefault(run_id, []).append(key)
    return Orphans({run_id: sorted(keys) for run_id, keys in sorted(by_run.items())})


async def delete_orphans(store: BlobStore, orphans: Orphans) -> int:
    """Delete the objects ``find_orphans`` found (after the person agreed)."""
    keys = orphans.keys
    return await store.delete_many(keys) if keys else 0
