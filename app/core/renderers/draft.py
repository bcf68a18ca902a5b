"""The draft renderer: a Pillow storyboard panel per shot, offline, the embedded default.

Drawing and PNG encoding run in an executor (a thread by default; the spec and
the provenance are picklable, so a process pool works too), never on the event
loop. Every PNG carries its provenance (run, scene, shot, attempt, prompt,
seed, model, drawing time) as text chunks, see ``app.core.provenance``. The
image is written through the blob store under the same key the cloud worker uses.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from concurrent.futures import Executor
from dataclasses import replace

from app.core import frame
from app.core.models import ImageRef
from app.core.provenance import Provenance, provenance_chunks
from app.core.renderers import RenderRequest, RenderResult
from app.core.renderers.panel import PanelSpec, encode_png, render_panel
from app.core.storage import BlobStore

MODEL = "storyreel-draft-panel-1"


class DraftRenderer:
    name = "draft (offline)"

    def __init__(self, store: BlobStore, executor: Executor | None = None) -> None:
        self.store = store
        self._executor = executor

    def size_for(self, aspect: str) -> tuple[int, int]:
        """Draft panels: 1024 pixels on the long side (16:9 is 1024 x 576, 9:16 576 x 1024)."""
        return frame.draft_size(aspect)

    async def render_shot(self, request: RenderRequest) -> RenderResult:
        shot = request.shot
        spec = PanelSpec(
            width=request.width,
            height=request.height,
            seed=shot.seed,
            shot_type=shot.shot_type.value,
            number=shot.number,
            heading=request.scene_heading,
            description=shot.description,
            camera=shot.camera,
        )
        provenance = Provenance.for_shot(
            shot, attempt=request.attempt, model=MODEL, negative_prompt=request.negative_prompt,
            width=request.width, height=request.height)
        started = time.perf_counter()
        png = await asyncio.get_running_loop().run_in_executor(
            self._executor, draw_png, spec, provenance
        )
        drawn = time.perf_counter()
        await self.store.put(request.key, png, "image/png")
        stored = time.perf_counter()
        image = ImageRef(
            store=self.store.kind,
            bucket=self.store.bucket,
            key=request.key,
            width=request.width,
            height=request.height,
            seed=shot.seed,
            sha256=hashlib.sha256(png).hexdigest(),
            bytes=len(png),
        )
        return RenderResult(
            image=image,
            timings={"render_s": round(drawn - started, 4), "upload_s": round(stored - drawn, 4)},
            model=MODEL,
        )

    async def aclose(self) -> None:
        return None


def draw_png(spec: PanelSpec, provenance: Provenance) -> bytes:
    """Draw the panel and encode it with its provenance, timing the drawing into it."""
    started = time.perf_counter()
    image = render_panel(spec)
    timings = {"draw_s": round(time.perf_counter() - started, 4)}
    return encode_png(image, provenance_chunks(replace(provenance, timings=timings)))
