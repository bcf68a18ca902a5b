"""Stand-ins for a writer and a renderer, implementing the core's own interfaces.

They are scripted (latency, failures, gates) so pipeline behaviour can be
tested exactly; the real offline parts are tested on their own and end to end.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable

from app.core.errors import RenderError, StageError
from app.core.ideas import Idea
from app.core.models import (
    Character,
    ImageRef,
    Scene,
    ScenePlan,
    Script,
    ShotPlan,
    ShotType,
)
from app.core.renderers import RenderRequest, RenderResult


class PlannedWriter:
    name = "planned"

    def __init__(self, scenes: int = 3, shots_per_scene: int = 4, *, fail: str | None = None,
                 delay: float = 0.0) -> None:
        self.scenes, self.shots_per_scene = scenes, shots_per_scene
        self.fail, self.delay = fail, delay
        self.calls: list[str] = []

    async def write_script(self, idea: Idea, *, seed: int, style: str | None) -> Script:
        self.calls.append("write_script")
        await asyncio.sleep(self.delay)
        if self.fail == "script":
            raise StageError("the writer could not write a script")
        return Script(title=f"Title of {idea.text[:20]}", logline="A logline.",
                      screenplay="Title: T\n\nEXT. A PLACE - DAY\n\nAction.\n",
                      characters=[Character(name="MARA", description="tall, grey coat")])

    async def plan_scenes(self, idea: Idea, script: Script, *, seed: int) -> list[ScenePlan]:
        self.calls.append("plan_scenes")
        await asyncio.sleep(self.delay)
        if self.fail == "plan":
            raise StageError("the writer gave no usable scene plan")
        return [
            ScenePlan(
                scene=Scene(index=s, heading=f"EXT. PLACE {s} - DAY", characters=["MARA"]),
                shots=[ShotPlan(shot_type=ShotType.WIDE, description=f"shot {s}.{i}",
                                characters=["MARA"])
                       for i in range(1, self.shots_per_scene + 1)],
            )
            for s in range(1, self.scenes + 1)
        ]

    async def aclose(self) -> None:
        return None


Behaviour = Callable[[RenderRequest], "asyncio.Future | None"]


class ScriptedRenderer:
    """Renders after ``latency`` seconds; ``failures[shot_id]`` failing attempts first.

    Measures how many renders are in flight at once, and records every call.
    """

    name = "scripted"

    def __init__(self, *, latency: float = 0.0, failures: dict[str, int] | None = None,
                 fatal: set[str] | None = None, gates: dict[str, asyncio.Event] | None = None,
                 latencies: dict[str, float] | None = None) -> None:
        self.latency = latency
        self.latencies = latencies or {}
        self.failures = Counter(failures or {})
        self.fatal = fatal or set()
        self.gates = gates or {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls: list[tuple[str, int]] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.kept: list[str] = []  # cancelled, but the remote job was to be left running
        self.resumed: list[tuple[str, str]] = []
        self.announce_jobs = False
        self.started = asyncio.Event()

    async def render_shot(self, request: RenderRequest) -> RenderResult:
        shot = request.shot
        self.calls.append((shot.shot_id, request.attempt))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.started.set()
        if request.resume_job_id:
            self.resumed.append((shot.shot_id, request.resume_job_id))
        try:
            if self.announce_jobs and request.on_job and not request.resume_job_id:
                await request.on_job(f"job-{shot.shot_id}-{request.attempt}")
            if shot.shot_id in self.gates:
                await self.gates[shot.shot_id].wait()
            await asyncio.sleep(self.latencies.get(shot.shot_id, self.latency))
            if shot.shot_id in self.fatal:
                raise RenderError("the job was cancelled on the endpoint", retryable=False)
            if self.failures[shot.shot_id] > 0:
                self.failures[shot.shot_id] -= 1
                raise RenderError("the job failed: CUDA out of memory", gpu_s=0.25)
        except asyncio.CancelledError:
            (self.kept if request.keeps_job() else self.cancelled).append(shot.shot_id)
            raise
        finally:
            self.in_flight -= 1
        self.finished.append(shot.shot_id)
        digest = hashlib.sha256(f"{shot.shot_id}:{shot.seed}".encode()).hexdigest()
        return RenderResult(
            image=ImageRef(store="memory", bucket="test", key=request.key, width=request.width,
                           height=request.height, seed=shot.seed, sha256=digest, bytes=1),
            timings={"gpu_s": 0.5},
            job_id=f"job-{shot.shot_id}-{request.attempt}",
        )

    async def aclose(self) -> None:
        return None


async def wait_until(predicate: Callable[[], bool], limit_s: float = 5.0) -> None:
    """Poll ``predicate`` on the event loop until it holds; fail after ``limit_s`` seconds."""
    async with asyncio.timeout(limit_s):
        while not predicate():  # noqa: ASYNC110 - a test probe of plain attributes
            await asyncio.sleep(0.001)
