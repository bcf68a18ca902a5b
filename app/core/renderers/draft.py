"""The draft renderer: a Pillow storyboard panel per shot, offline, the embedded default.

Drawing and PNG encoding run in an executor (a thread by default; the spec is
picklable, so a process pool works too), never on the event loop. The image
is written through the blob store under the same key the cloud worker uses.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from concurrent.futures import Executor

from app.core.models import ImageRef
from app.core.renderers import RenderRequest, RenderResult
from app.core.renderers.panel import PanelSpec, render_panel_png
from app.core.storage import BlobStore

MODEL = "storyreel-draft-panel-1"


class DraftRenderer:
    name = "draft (offline)"

    def __init__(self, store: BlobStore, executor: Executor | None = None) -> None:
        self.store = store
        self._executor = executor

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
        started = time.perf_counter()
        png = await asyncio.get_running_loop().run_in_executor(
            self._executor, render_panel_png, spec
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
