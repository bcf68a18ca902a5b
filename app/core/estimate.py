"""What a cloud run will cost, said before it starts.

GPU jobs: two for a RunPod writer (the script, the scene plan) and one per
shot. GPU seconds: from this user's recent runs on the same endpoints when
there are any (what RunPod billed: ``executionTime``), else stated defaults.
The number of shots is not known before the writer has planned them: it is
``--max-shots`` when given, else the median of recent runs by the same
writer, else a typical storyboard's. Money: GPU seconds times the price per
GPU second the user set (``STORYREEL_PRICE_PER_GPU_SECOND``); unknown without
one. A budget caps the GPU seconds, as the pipeline will. Given the frame's size
(``pixels``, from the run's aspect), a shot's GPU seconds follow its pixel count:
recent runs are counted per pixel they drew, the default per pixel of its frame.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from app.core.history import HistoryStore
from app.core.models import Run, RunStatus, Stage

TYPICAL_SHOTS = 20
DEFAULT_SHOT_GPU_S = 4.0  # FLUX.1-schnell, 4 steps, a 16:9 frame (1360x768), warm worker
DEFAULT_SHOT_PIXELS = 1360 * 768  # the frame DEFAULT_SHOT_GPU_S is stated for
DEFAULT_WRITER_STAGE_GPU_S = 20.0  # an 8B model writing ~1500 words on vLLM
RECENT_RUNS = 20  # of the same set-up, at most, to learn from
LOOKED_AT = 200  # newest runs looked through for them
WRITER_STAGES = (Stage.WRITING_SCRIPT.value, Stage.PLANNING_SCENES.value)


@dataclass(frozen=True)
class Estimate:
    shots: int
    shots_basis: str
    shot_jobs: int  # the shots, when the renderer runs on RunPod; else 0
    writer_jobs: int
    shot_gpu_s: float  # per shot
    shot_basis: str
    writer_gpu_s: float  # per writer job
    writer_basis: str
    budget_gpu_s: float | None
    price_per_gpu_s: float | None
    script_scenes: int | None = None  # the whole script, when it is known before the run
    script_shots: int | None = None

    def with_script(self, scenes: int, shots: int, drawn: int) -> Estimate:
        """This estimate for a script whose size is known before the run (``app.core.scenes
        .script_size``): ``drawn`` shots storyboarded now, of ``shots`` in ``scenes``."""
        return replace(self, shots=drawn, shots_basis="the scenes to storyboard",
                       shot_jobs=drawn if self.shot_gpu_s > 0 else 0,  # 0: no GPU renderer
                       script_scenes=scenes, script_shots=shots)

    @property
    def script_gpu_seconds(self) -> float | None:
        """GPU seconds to storyboard every scene of the script (no budget applied)."""
        if self.script_shots is None:
            return None
        return round(self.writer_jobs * self.writer_gpu_s
                     + self.script_shots * self.shot_gpu_s, 1)

    @property
    def jobs(self) -> int:
        return self.writer_jobs + self.shot_jobs

    @property
    def uncapped_gpu_seconds(self) -> float:
        return self.writer_jobs * self.writer_gpu_s + self.shot_jobs * self.shot_gpu_s

    @property
    def gpu_seconds(self) -> float:
        total = self.uncapped_gpu_seconds
        if self.budget_gpu_s is not None:
            total = min(total, self.budget_gpu_s)
        return round(total, 1)

    @property
    def capped(self) -> bool:
        """The budget will stop the run before every shot is rendered."""
        return self.budget_gpu_s is not None and self.uncapped_gpu_seconds > self.budget_gpu_s

    @property
    def cost(self) -> float | None:
        """US dollars; None when no price is set."""
        if self.price_per_gpu_s is None:
            return None
        return self.gpu_seconds * self.price_per_gpu_s

    def describe(self) -> str:
        """One line for a terminal (the window words it in the person's language)."""
        if not self.jobs:
            return "estimate: no GPU jobs (this set-up runs offline), nothing to pay"
        money = (f"about ${self.cost:.2f}" if self.cost is not None
                 else "cost unknown (set STORYREEL_PRICE_PER_GPU_SECOND)")
        jobs = f"{self.jobs} GPU jobs" + (f" ({self.writer_jobs} writer)" if self.writer_jobs
                                           else "")
        line = f"estimate: {jobs}, about {self.gpu_seconds:g} GPU seconds, {money}; "
        line += f"{self.shots} shots ({self.shots_basis})"
        if self.shot_jobs:
            line += f", {self.shot_gpu_s:.1f} GPU s a shot ({self.shot_basis})"
        if self.capped:
            line += f"; the budget of {self.budget_gpu_s:g} GPU seconds will stop it early"
        if self.script_shots is not None and self.script_shots > self.shots:
            whole = self.script_gpu_seconds or 0.0
            money = (f", about ${whole * self.price_per_gpu_s:.2f}"
                     if self.price_per_gpu_s is not None else "")
            line += (f"; the whole script ({self.script_scenes} scenes, about "
                     f"{self.script_shots} shots): about {whole:g} GPU seconds{money}")
        return line

    def as_dict(self) -> dict[str, object]:
        return {"jobs": self.jobs, "writer_jobs": self.writer_jobs,
                "shot_jobs": self.shot_jobs, "shots": self.shots,
                "shots_basis": self.shots_basis, "gpu_seconds": self.gpu_seconds,
                "shot_gpu_seconds": self.shot_gpu_s, "shot_basis": self.shot_basis,
                "writer_gpu_seconds": self.writer_gpu_s, "writer_basis": self.writer_basis,
                "price_per_gpu_second": self.price_per_gpu_s, "cost_usd": self.cost,
                "budget_gpu_seconds": self.budget_gpu_s, "capped": self.capped,
                "script_scenes": self.script_scenes, "script_shots": self.script_shots,
                "script_gpu_seconds": self.script_gpu_seconds}


async def estimate_run(history: HistoryStore, *, writer: str, renderer: str,
                       writer_on_gpu: bool, renderer_on_gpu: bool,
                       max_shots: int | None = None,
                       budget_gpu_s: float | None = None,
                       price_per_gpu_s: float | None = None,
                       pixels: int | None = None) -> Estimate:
    """``writer``/``renderer``: the names the pipeline records on runs (``Writer.name``,
    ``Renderer.name``); ``writer_on_gpu``, ``renderer_on_gpu``: that part runs RunPod jobs,
    paid by the GPU second; ``pixels``: width times height of the frames to draw."""
    recent = await recent_runs(history)
    return estimate_from(recent, writer=writer, renderer=renderer, writer_on_gpu=writer_on_gpu,
                         renderer_on_gpu=renderer_on_gpu, max_shots=max_shots,
                         budget_gpu_s=budget_gpu_s, price_per_gpu_s=price_per_gpu_s,
                         pixels=pixels)


def estimate_from(recent: list[Run], *, writer: str, renderer: str, writer_on_gpu: bool,
                  renderer_on_gpu: bool, max_shots: int | None = None,
                  budget_gpu_s: float | None = None,
                  price_per_gpu_s: float | None = None,
                  pixels: int | None = None) -> Estimate:
    """The estimate from finished runs, newest first. Pure. With ``pixels`` (the frame's
    width times height) a shot's GPU seconds scale with its pixel count."""
    same_writer = [r for r in recent if r.writer == writer and r.shot_count][:RECENT_RUNS]
    if max_shots is not None:
        shots, shots_basis = max_shots, "at most, as asked"
        if same_writer:
            shots = min(max_shots, max(r.shot_count for r in same_writer))
            shots_basis = "the most your recent runs had, within the limit asked"
    elif same_writer:
        shots = round(statistics.median(r.shot_count for r in same_writer))
        shots_basis = f"the median of your last {_runs(len(same_writer))}"
    else:
        shots, shots_basis = TYPICAL_SHOTS, "a typical storyboard"

    rendered, attempts, render_gpu, _ = _shot_jobs(recent, renderer)
    if not renderer_on_gpu:
        shot_gpu, shot_basis = 0.0, "no GPU"
    elif attempts and render_gpu > 0:
        shot_gpu, shot_basis = render_gpu / attempts, f"your last {_runs(len(rendered))} on it"
        if pixels is not None:  # per pixel drawn: runs of other sizes count for what they drew
            drawn = sum((r.shots_done + r.shots_failed) * r.width * r.height for r in rendered)
            shot_gpu = render_gpu / drawn * pixels if drawn else shot_gpu
    else:
        shot_gpu, shot_basis = DEFAULT_SHOT_GPU_S, "a stated default until you have runs"
        if pixels is not None:
            shot_gpu = DEFAULT_SHOT_GPU_S * pixels / DEFAULT_SHOT_PIXELS

    writer_jobs = len(WRITER_STAGES) if writer_on_gpu else 0
    written = [r for r in same_writer if any(s in r.stages and r.stages[s].jobs
                                             for s in WRITER_STAGES)]
    jobs = sum(r.stages[s].jobs for r in written for s in WRITER_STAGES if s in r.stages)
    if writer_jobs and jobs:
        writer_gpu = sum(_writer(r, "gpu_s") for r in written) / jobs
        writer_basis = f"your last {_runs(len(written))}"
    else:
        writer_gpu = DEFAULT_WRITER_STAGE_GPU_S if writer_jobs else 0.0
        writer_basis = "a stated default" if writer_jobs else "no GPU"
    return Estimate(shots=shots, shots_basis=shots_basis,
                    shot_jobs=shots if renderer_on_gpu else 0, writer_jobs=writer_jobs,
                    shot_gpu_s=round(shot_gpu, 2), shot_basis=shot_basis,
                    writer_gpu_s=round(writer_gpu, 2), writer_basis=writer_basis,
                    budget_gpu_s=budget_gpu_s, price_per_gpu_s=price_per_gpu_s)


def usual_job_seconds(recent: list[Run], renderer: str) -> float | None:
    """A shot job's usual time from submission to its end (GPU plus queue) on ``renderer``,
    from finished runs, newest first; None when they say nothing. Pure."""
    _, attempts, gpu, queue = _shot_jobs(recent, renderer)
    spent = gpu + queue
    return spent / attempts if attempts and spent > 0 else None


async def recent_runs(history: HistoryStore) -> list[Run]:
    """The newest finished runs, for learning what runs cost and take."""
    return [r for r in await history.list_runs(limit=LOOKED_AT)
            if r.status is not RunStatus.RUNNING]


def _shot_jobs(recent: list[Run], renderer: str) -> tuple[list[Run], int, float, float]:
    """The recent runs on ``renderer`` and what their shot jobs took: attempts, GPU seconds
    and queue seconds (a run's totals less its writer's)."""
    rendered = [r for r in recent if r.renderer == renderer][:RECENT_RUNS]
    attempts = sum(r.shots_done + r.shots_failed for r in rendered)
    gpu = sum(max(0.0, r.gpu_seconds - _writer(r, "gpu_s")) for r in rendered)
    queue = sum(max(0.0, r.queue_seconds - _writer(r, "queue_s")) for r in rendered)
    return rendered, attempts, gpu, queue


def _writer(run: Run, what: str) -> float:
    """The writer stages' ``gpu_s`` or ``queue_s``."""
    return sum(getattr(run.stages[s], what) for s in WRITER_STAGES if s in run.stages)


def _runs(n: int) -> str:
    return "run" if n == 1 else f"{n} runs"
