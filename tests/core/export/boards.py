"""Real runs for the export tests, made by the offline parts (draft writer and
renderer, a local blob store, history in memory), small enough to be quick."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.history.memory import MemoryHistory
from app.core.ideas import read
from app.core.models import ImageRef, Run, RunOptions, RunStatus
from app.core.pipeline import Pipeline
from app.core.renderers.draft import DraftRenderer
from app.core.storage.local import LocalBlobStore
from app.core.writers.draft import DraftWriter
from tests.conftest import SAMPLES


@dataclass
class Board:
    run: Run
    store: LocalBlobStore
    history: MemoryHistory

    async def image_path(self, image: ImageRef) -> Path | None:
        return self.store.local_path(image.key)

    def file_of(self, shot_id: str) -> Path:
        return self.store.local_path(self.run.shot(shot_id).image.key)


async def make_board(root: Path, *, sample: str = "lighthouse.txt", max_shots: int | None = None,
                     width: int = 256, height: int = 144, seed: int = 3) -> Board:
    store = LocalBlobStore(root / "blobs")
    history = MemoryHistory()
    [idea] = read(SAMPLES / sample)
    pipeline = Pipeline(DraftWriter(), DraftRenderer(store), history, concurrency=4)
    run = await pipeline.start(idea, RunOptions(seed=seed, max_shots=max_shots, width=width,
                                                height=height))
    assert run.status is RunStatus.COMPLETED
    return Board(run, store, history)


def leftovers(folder: Path) -> list[str]:
    """Files in ``folder`` (temporary ``.part`` files included)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
