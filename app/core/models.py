"""The things a run is made of: the run, its script, scenes, shots and cast.

Plain pydantic models, serialisable as they are to JSON and to MongoDB
documents. Shots are kept beside the run, not inside it, so that stores can
write each shot on its own (one document per shot).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.frame import aspect_of


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by creation time and is unique: ``20261127-193012-a1b2c3``."""
    now = now or utcnow()
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def shot_id_for(scene: int, index: int) -> str:
    """Stable, key-safe id of a shot within its run: ``s01-03``."""
    return f"s{scene:02d}-{index:02d}"


# Storyboard convention: shots are numbered by scene plus a letter, skipping I and O.
_SHOT_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def shot_number(scene: int, index: int) -> str:
    """Human shot number: scene 12, third shot -> ``12C``."""
    letters = ""
    n = index
    while True:
        n, r = divmod(n - 1, len(_SHOT_LETTERS))
        letters = _SHOT_LETTERS[r] + letters
        if n == 0:
            return f"{scene}{letters}"


def derive_seed(run_seed: int, shot_id: str, version: int = 0) -> int:
    """Per-shot seed derived from the run seed: same run seed, same shot seeds."""
    digest = hashlib.blake2b(f"{run_seed}:{shot_id}:{version}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self is not RunStatus.RUNNING


class Stage(StrEnum):
    QUEUED = "queued"
    WRITING_SCRIPT = "writing_script"
    PLANNING_SCENES = "planning_scenes"
    RENDERING_SHOTS = "rendering_shots"
    DONE = "done"


class ShotStatus(StrEnum):
    QUEUED = "queued"
    RENDERING = "rendering"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (ShotStatus.DONE, ShotStatus.FAILED, ShotStatus.CANCELLED)


class ShotType(StrEnum):
    """Shot sizes and special set-ups of storyboard practice."""

    EXTREME_WIDE = "EWS"
    WIDE = "WS"
    MEDIUM = "MS"
    MEDIUM_CLOSE_UP = "MCU"
    CLOSE_UP = "CU"
    EXTREME_CLOSE_UP = "ECU"
    TWO_SHOT = "2S"
    OVER_THE_SHOULDER = "OTS"
    POV = "POV"
    INSERT = "INSERT"

    @property
    def label(self) -> str:
        return _SHOT_TYPE_LABELS[self]


_SHOT_TYPE_LABELS = {
    ShotType.EXTREME_WIDE: "extreme wide",
    ShotType.WIDE: "wide",
    ShotType.MEDIUM: "medium",
    ShotType.MEDIUM_CLOSE_UP: "medium close-up",
    ShotType.CLOSE_UP: "close-up",
    ShotType.EXTREME_CLOSE_UP: "extreme close-up",
    ShotType.TWO_SHOT: "two-shot",
    ShotType.OVER_THE_SHOULDER: "over the shoulder",
    ShotType.POV: "point of view",
    ShotType.INSERT: "insert",
}


class Model(BaseModel):
    # defer_build: each model's validator is built on its first use, not at import (the
    # window paints before most are used; issue 16's first-window figure)
    model_config = ConfigDict(extra="ignore", validate_assignment=False, defer_build=True)


class Character(Model):
    name: str
    description: str = ""


class Script(Model):
    title: str
    logline: str
    screenplay: str = Field(description="the screenplay in Fountain format")
    characters: list[Character] = Field(default_factory=list)


class Scene(Model):
    index: int = Field(ge=1, description="1-based position in the story")
    heading: str = Field(description="slug line, e.g. EXT. LIGHTHOUSE - NIGHT")
    summary: str = ""
    characters: list[str] = Field(default_factory=list)


class ShotPlan(Model):
    """A shot as a writer plans it, before the pipeline gives it an id and a seed."""

    shot_type: ShotType
    camera: str = "static"
    description: str
    characters: list[str] = Field(default_factory=list)
    dialogue: str = ""


class ScenePlan(Model):
    scene: Scene
    shots: list[ShotPlan]


class ImageRef(Model):
    """Where a rendered image lives and what it is."""

    store: str = Field(description="'local' or 'r2'")
    bucket: str
    key: str
    width: int
    height: int
    seed: int
    sha256: str
    bytes: int
    mime: str = "image/png"


class ShotVersion(Model):
    """An earlier image of a shot, kept when the shot is rendered again."""

    attempt: int
    image: ImageRef
    prompt: str
    seed: int
    job_id: str | None = None
    model: str = ""
    timings: dict[str, float] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)


class Shot(Model):
    run_id: str
    shot_id: str
    scene: int = Field(ge=1)
    index: int = Field(ge=1, description="1-based position within its scene")
    number: str = Field(description="storyboard number, e.g. 3B")
    shot_type: ShotType
    camera: str = "static"
    description: str
    characters: list[str] = Field(default_factory=list)
    dialogue: str = ""
    prompt: str = ""
    seed: int = 0
    status: ShotStatus = ShotStatus.QUEUED
    attempts: int = 0
    error: str | None = None
    job_id: str | None = None
    model: str = Field(default="", description="what drew the current image")
    image: ImageRef | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    versions: list[ShotVersion] = Field(default_factory=list, description="earlier images")
    stale: str | None = Field(default=None, description="why the image no longer matches "
                              "the plan (a scene or a look was edited); None when it does")
    next_prompt: str | None = Field(default=None, description="the prompt the next render "
                                    "uses, when an edit changed it; ``prompt`` stays the "
                                    "current image's until then")
    image_attempt: int | None = Field(default=None, description="the attempt that made the "
                                      "current image when a person picked an earlier version; "
                                      "None: the latest attempt made it")
    duration_s: float | None = Field(default=None, gt=0, le=600, description="how long the "
                                     "shot is held, as the artist set it; None: from its "
                                     "dialogue (``app.core.timing.shot_duration``)")
    note: str = Field(default="", description="the artist's free note; not drawn")
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def order(self) -> tuple[int, int]:
        return (self.scene, self.index)


class StageTimes(Model):
    """What one stage of a run cost: its cloud jobs, GPU time paid (RunPod's
    ``executionTime``), time queued (``delayTime``, cold starts included) and wall time."""

    jobs: int = 0
    gpu_s: float = 0.0
    queue_s: float = 0.0
    wall_s: float = 0.0

    def plus(self, other: StageTimes) -> StageTimes:
        return StageTimes(jobs=self.jobs + other.jobs,
                          gpu_s=round(self.gpu_s + other.gpu_s, 3),
                          queue_s=round(self.queue_s + other.queue_s, 3),
                          wall_s=round(self.wall_s + other.wall_s, 3))


class RunOptions(Model):
    max_shots: int | None = Field(default=None, ge=1)
    budget_gpu_s: float | None = Field(default=None, gt=0, description="stop submitting "
                                       "new shots once this many GPU seconds are spent")
    concurrency: int = Field(default=8, ge=1, le=256)
    seed: int | None = None
    style: str | None = None
    aspect: str = Field(default="16:9", description="the frame's aspect ratio, one of "
                        "``app.core.frame.ASPECTS``")
    width: int | None = Field(default=None, ge=64, le=4096, description="None: the "
                              "renderer's size for the aspect (``Renderer.size_for``)")
    height: int | None = Field(default=None, ge=64, le=4096)
    scenes: list[int] | None = Field(default=None, description="the scenes to storyboard "
                                     "(1-based, `--scenes`); None: all of them")


class RunOwner(Model):
    """The one process working on a run (see ``app.core.ownership``). Times are the
    owner's wall clock in epoch milliseconds: plain numbers, which every store compares
    alike (a date set inside a document is not, on the embedded server)."""

    machine: str = Field(description="host name and a stable id of the install")
    host: str = Field(description="the host name, for messages")
    pid: int
    token: str = Field(description="random, one per pipeline: tells owners apart even "
                       "when a process id comes round again")
    heartbeat_ms: int = Field(description="when the owner last said it was working")
    expires_ms: int = Field(description="after this, without a newer heartbeat, anyone "
                            "may take the run over")


class Run(Model):
    run_id: str = Field(default_factory=new_run_id)
    idea: str
    source: str | None = Field(default=None, description="file name the idea came from")
    title: str = ""
    status: RunStatus = RunStatus.RUNNING
    stage: Stage = Stage.QUEUED
    seed: int = 0
    style: str | None = None
    aspect: str = Field(default="16:9", description="the frame's aspect ratio "
                        "(``app.core.frame.ASPECTS``); width and height follow it")
    width: int = 1024
    height: int = 576
    max_shots: int | None = None
    budget_gpu_s: float | None = None
    writer: str = ""
    renderer: str = ""
    script: Script | None = None
    scenes: list[Scene] = Field(default_factory=list)
    scenes_chosen: list[int] | None = Field(default=None, description="the scenes the run "
                                            "was asked to storyboard (`--scenes`); None: all")
    held_plans: list[ScenePlan] = Field(
        default_factory=list, description="shot plans of the scenes not storyboarded yet "
        "(not chosen with --scenes, or cut by the shot cap), for storyboarding later")
    shot_count: int = 0
    shots_done: int = 0
    shots_failed: int = 0
    gpu_seconds: float = 0.0
    queue_seconds: float = 0.0
    stages: dict[str, StageTimes] = Field(
        default_factory=dict, description="each stage's costs as the pipeline recorded them, "
        "by Stage value; for rendering only its wall time, the rest is summed from the "
        "shots (see ``stage_times``)")
    prompt_words: str = Field(default="", description="the distinct words of the shots' "
                              "prompts, for searching history by what was drawn")
    writer_jobs: dict[str, str] = Field(
        default_factory=dict, description="the writer's cloud jobs by request digest, "
        "written as RunPod returns each id, so a resumed stage polls them instead of paying")
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    wall_seconds: float = 0.0
    # Kept by the stores beside the run (never in exports or events): who works on it.
    owner: RunOwner | None = Field(default=None, exclude=True)
    # Not part of the run document: stores fill it from the shots, one document each.
    shots: list[Shot] = Field(default_factory=list, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _aspect_from_size(cls, data: object) -> object:
        """A run stored before aspects existed has none: the label nearest its size."""
        if isinstance(data, dict) and data.get("aspect") is None:
            data = {**data, "aspect": aspect_of(int(data.get("width") or 1024),
                                                int(data.get("height") or 576))}
        return data

    def tally(self) -> None:
        """Recompute the counters kept on the run document from its shots."""
        self.shot_count = len(self.shots)
        self.shots_done = sum(1 for s in self.shots if s.status is ShotStatus.DONE)
        self.shots_failed = sum(1 for s in self.shots if s.status is ShotStatus.FAILED)
        # Every attempt that was billed: failed ones, and earlier versions, included.
        totals = self.stage_times()
        self.gpu_seconds = round(sum(t.gpu_s for t in totals.values()), 3)
        self.queue_seconds = round(sum(t.queue_s for t in totals.values()), 3)

    def stage_times(self) -> dict[str, StageTimes]:
        """Costs by stage, for the stages that ran: the writer's as recorded; the rendering
        stage's wall time as recorded and its jobs, GPU and queue time summed from every
        attempt of every shot (failed ones and earlier versions too: RunPod bills them)."""
        times = dict(self.stages)
        rendering = Stage.RENDERING_SHOTS.value
        jobs, gpu, queue = 0, 0.0, 0.0
        for shot in self.shots:
            for timings in (shot.timings, *(v.timings for v in shot.versions)):
                jobs += int(timings.get("failed_jobs", 0))
                jobs += "gpu_s" in timings or "queue_s" in timings  # the job that made it
                gpu += timings.get("gpu_s", 0.0) + timings.get("failed_gpu_s", 0.0)
                queue += timings.get("queue_s", 0.0)
        if rendering in times or jobs:
            wall = times[rendering].wall_s if rendering in times else 0.0
            times[rendering] = StageTimes(jobs=jobs, gpu_s=round(gpu, 3),
                                          queue_s=round(queue, 3), wall_s=wall)
        return times

    def index_prompts(self) -> None:
        """Recompute ``prompt_words`` from the shots' prompts, current and earlier."""
        words: dict[str, None] = {}
        for shot in self.shots:
            for prompt in (shot.prompt, *(v.prompt for v in shot.versions)):
                words.update(dict.fromkeys(_WORD.findall(prompt.casefold())))
        self.prompt_words = " ".join(words)

    def shot(self, shot_id: str) -> Shot:
        for s in self.shots:
            if s.shot_id == shot_id:
                return s
        raise KeyError(shot_id)


_WORD = re.compile(r"\w[\w'-]*")


class RunCounts:
    """``Run.tally()`` kept up to date one shot at a time, for the fan-out.

    ``tally()`` walks every shot; called each time a shot lands, that is O(shots) per
    shot and O(shots²) per run (at 1024 shots, 5 ms of the event loop's time per landing,
    issue 16). ``land(shot)`` takes out what ``shot`` counted for before and puts in what
    it counts for now: O(1). The totals match ``tally()``'s up to float rounding in the
    last place; the run is tallied in full when it ends.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self._parts: dict[str, tuple[int, int, int, float, float]] = {}
        self._sums = [0, 0, 0, 0.0, 0.0]  # done, failed, jobs, gpu, queue
        for shot in run.shots:
            self._count(shot)

    def _count(self, shot: Shot) -> None:
        jobs, gpu, queue = 0, 0.0, 0.0
        for timings in (shot.timings, *(v.timings for v in shot.versions)):
            jobs += int(timings.get("failed_jobs", 0))
            jobs += "gpu_s" in timings or "queue_s" in timings
            gpu += timings.get("gpu_s", 0.0) + timings.get("failed_gpu_s", 0.0)
            queue += timings.get("queue_s", 0.0)
        part = (int(shot.status is ShotStatus.DONE), int(shot.status is ShotStatus.FAILED),
                jobs, gpu, queue)
        before = self._parts.get(shot.shot_id, (0, 0, 0, 0.0, 0.0))
        self._parts[shot.shot_id] = part
        self._sums = [s - b + p for s, b, p in zip(self._sums, before, part, strict=True)]

    def land(self, shot: Shot) -> None:
        """Count ``shot`` as it is now, and set the run's counters."""
        self._count(shot)
        run = self.run
        run.shot_count = len(run.shots)
        run.shots_done, run.shots_failed = self._sums[0], self._sums[1]
        rendering = Stage.RENDERING_SHOTS.value
        others = [t for name, t in run.stages.items() if name != rendering]
        run.gpu_seconds = round(sum(t.gpu_s for t in others) + round(self._sums[3], 3), 3)
        run.queue_seconds = round(sum(t.queue_s for t in others) + round(self._sums[4], 3), 3)
