"""The orchestrator: a chain (script, then scene plan) and a bounded fan-out (shots).

Every wait is an ``await``. Shots render with at most ``concurrency`` in
flight and each one is announced the moment it lands; nothing waits for the
slowest shot to show the others. Every state change is written to history
before it is announced, so a crash loses nothing that was shown.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from app.core import events as ev
from app.core import frame, ownership, revisions, scenes
from app.core.board import NEW_SHOT, Board
from app.core.errors import DiskError, HistoryError, RenderError, StageError, StoryreelError
from app.core.history import HistoryStore
from app.core.ideas import Idea, detect_kind
from app.core.metering import metering
from app.core.models import (
    Run,
    RunCounts,
    RunOptions,
    RunStatus,
    ScenePlan,
    Shot,
    ShotStatus,
    Stage,
    StageTimes,
    derive_seed,
    shot_id_for,
    shot_number,
    utcnow,
)
from app.core.prompts import NEGATIVE_PROMPT, build_shot_prompt
from app.core.renderers import Renderer, RenderRequest, size_for
from app.core.styles import Style, resolve_style
from app.core.writers import Writer
from app.core.writers.jobs import recording_jobs

log = logging.getLogger(__name__)
T = TypeVar("T")
_SLICE = 64  # shots built or saved between turns of the event loop (planning a feature)


async def _in_slices(items: Iterable[T]) -> AsyncIterator[T]:
    """``items``, letting the event loop through after every ``_SLICE`` of them."""
    for n, item in enumerate(items, 1):
        yield item
        if n % _SLICE == 0:
            await asyncio.sleep(0)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits ``base * 2**(n-1)``, capped,
    times a random factor in [0.5, 1] so that failed shots do not retry in step."""

    max_attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0

    def delay(self, failed_attempts: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (failed_attempts - 1))
        return ceiling * rng.uniform(0.5, 1.0)


def run_frame(options: RunOptions, renderer: Renderer) -> tuple[str, int, int]:
    """A new run's aspect label, width and height: the renderer's size for the aspect asked
    for; a width and height given explicitly are kept (the aspect, unless given too, is
    then the label nearest them)."""
    aspect = frame.parse_aspect(options.aspect)
    if options.width is None and options.height is None:
        return (aspect, *size_for(renderer, aspect))
    if "aspect" not in options.model_fields_set and options.width and options.height:
        aspect = frame.aspect_of(options.width, options.height)
    r = frame.ratio(aspect)
    width = options.width or max(2, 2 * round(options.height * r / 2))
    height = options.height or max(2, 2 * round(options.width / r / 2))
    return aspect, width, height


def _owned(method):
    """Work on the run ``run_id`` (the method's first argument) only while holding it:
    taken first (``RunBusy`` while another process's heartbeat is fresh), released after."""

    @functools.wraps(method)
    async def holding(self: Pipeline, run_id: str, *args, **kwargs):
        await self._take(run_id)
        try:
            return await method(self, run_id, *args, **kwargs)
        finally:
            await self._let_go(run_id)

    return holding


class Pipeline:
    def __init__(
        self,
        writer: Writer,
        renderer: Renderer,
        history: HistoryStore,
        *,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        identity: ownership.Identity | None = None,
        heartbeat_s: float = ownership.HEARTBEAT_S,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.writer = writer
        self.renderer = renderer
        self.history = history
        self.concurrency = concurrency
        self.retry_policy = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._listeners: list[ev.Listener] = []
        self._tasks: dict[str, asyncio.Task] = {}
        self._cancel_requested: set[str] = set()
        self._detached: set[str] = set()
        # One owner per run (app.core.ownership): runs this pipeline works on are held,
        # with a heartbeat; a run another process took over is dropped without a write.
        self.leases = ownership.Leases(history, identity or ownership.Identity.of_this_process(),
                                       interval_s=heartbeat_s, on_lost=self._lost_run)
        self._lost: set[str] = set()
        self._counts: dict[str, RunCounts] = {}  # runs rendering: counters kept shot by shot
        # Board edits (app.core.board): held and refused like the edits below.
        self.board = Board(history, emit=self._emit, take=self._take, let_go=self._let_go,
                           refuse=self._refuse_while_running,
                           size_for=lambda aspect: size_for(renderer, aspect))

    # Observing.

    def subscribe(self, listener: ev.Listener) -> Callable[[], None]:
        """Call ``listener`` with every event; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: ev.Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the run
                log.exception("event listener failed on %s", type(event).__name__)

    # Starting, resuming, retrying, cancelling.

    async def start(self, idea: Idea, options: RunOptions | None = None) -> Run:
        """Create a run for ``idea``, persist it, and drive it to its end."""
        options = options or RunOptions()
        style = resolve_style(options.style)  # StyleError before anything is written
        aspect, width, height = run_frame(options, self.renderer)  # AspectError, likewise
        run = Run(
            idea=idea.text,
            source=idea.source,
            seed=options.seed if options.seed is not None else self._rng.randrange(2**31),
            style=style.prompt if style.custom else style.name,
            aspect=aspect,
            width=width,
            height=height,
            max_shots=options.max_shots,
            budget_gpu_s=options.budget_gpu_s,
            scenes_chosen=options.scenes,
            writer=self.writer.name,
            renderer=self.renderer.name,
            owner=self.leases.owner(),  # ours from the first write: nobody else resumes it
        )
        await self.history.create_run(run)  # before any GPU work
        self.leases.hold(run.run_id)
        try:
            self._emit(ev.RunStarted(run.run_id, _run_snapshot(run)))
            return await self._drive(run, idea, pending=None)
        finally:
            await self._let_go(run.run_id)

    @_owned
    async def resume(self, run_id: str) -> Run:
        """Finish a run that a crash, a closed app or a cancel left unfinished.

        Stages already done are not done again; finished shots are never
        rendered twice; a shot whose job was submitted is handed back to the
        renderer with its job id, to poll rather than pay again.
        """
        run = await self.history.get_run(run_id)
        if run.status in (RunStatus.COMPLETED,):
            return run
        pending = [s for s in run.shots if s.status is not ShotStatus.DONE]
        return await self._restart(run, pending)

    @_owned
    async def retry(self, run_id: str, shot_ids: Iterable[str] | None = None) -> Run:
        """Render again the given shots, or every failed or cancelled shot of the run."""
        run = await self.history.get_run(run_id)
        if shot_ids is None:
            pending = [s for s in run.shots if s.status in (ShotStatus.FAILED,
                                                             ShotStatus.CANCELLED)]
        else:
            pending = [run.shot(sid) for sid in shot_ids]  # KeyError for an unknown shot
            for shot in pending:
                _keep_version(shot)
        if not pending and run.scenes:
            return run
        return await self._restart(run, pending)

    @_owned
    async def regenerate(self, run_id: str, shot_id: str, *, seed: int | None = None,
                         prompt: str | None = None) -> Run:
        """Render one shot again with a new seed (given, or the next one derived from the run
        seed) and optionally an edited prompt. The current image is kept as a version."""
        run = await self.history.get_run(run_id)
        self._refuse_while_running(run)
        shot = run.shot(shot_id)  # KeyError for an unknown shot
        _keep_version(shot)
        shot.seed = seed if seed is not None else derive_seed(run.seed, shot_id,
                                                               len(shot.versions))
        if prompt is not None and prompt.strip():
            shot.prompt = prompt.strip()
        return await self._restart(run, [shot])

    @_owned
    async def storyboard_scenes(self, run_id: str, numbers: list[int]) -> Run:
        """Storyboard more scenes of a run's script into the same run (``resume RUN_ID
        --scenes 13-20``): shots from the plans kept when the run left them out, under the
        run's shot cap; scenes that already have shots are left as they are, so no shot
        already drawn is drawn again."""
        run = await self.history.get_run(run_id)
        self._refuse_while_running(run)
        scenes.check_numbers(numbers, len(run.scenes))  # SceneSpecError: nothing changes
        held = {p.scene.index: p for p in run.held_plans}
        plans = [held[n] for n in numbers if n in held]
        if not plans:
            return run
        style = resolve_style(run.style)
        drawn = limit_shots(plans, run.max_shots)
        new = [self._new_shot(run, plan, shot_plan, index, style)
               for plan in drawn for index, shot_plan in enumerate(plan.shots, 1)]
        boarded = {p.scene.index for p in drawn}
        run.held_plans = [p for p in run.held_plans if p.scene.index not in boarded]
        run.scenes_chosen = (None if not run.held_plans else
                             sorted({*(run.scenes_chosen or []), *boarded}))
        run.shots = sorted([*run.shots, *new], key=lambda s: s.order)
        run.tally()
        for shot in new:
            await self._save_shot(shot)
        await self._save_run(run, "held_plans", "scenes_chosen", "shot_count")
        return await self._restart(run, new)

    @_owned
    async def regenerate_stale(self, run_id: str) -> Run:
        """Render again only the shots an edit made stale, each with the prompt the edit
        gave it and its seed unchanged. The images they replace are kept as versions."""
        run = await self.history.get_run(run_id)
        self._refuse_while_running(run)
        pending = revisions.stale_shots(run)
        for shot in pending:
            _keep_version(shot)
            shot.prompt, shot.next_prompt, shot.stale = shot.next_prompt or shot.prompt, None, None
        if not pending:
            return run
        return await self._restart(run, pending)

    # Editing a finished storyboard: no rendering, the changes are saved and returned.

    async def edit_character(self, run_id: str, name: str, look: str) -> tuple[Run, list[str]]:
        """Give a character a new look; returns the run and the ids of the shots now stale."""
        return await self._edit(run_id, lambda run: revisions.edit_character(run, name, look))

    async def edit_scene(self, run_id: str, index: int, *, heading: str | None = None,
                         summary: str | None = None) -> tuple[Run, list[str]]:
        """Change a scene's heading or summary; returns the run and the ids of the shots
        now stale."""
        return await self._edit(run_id, lambda run: revisions.edit_scene(
            run, index, heading=heading, summary=summary))

    @_owned
    async def pick_version(self, run_id: str, shot_id: str, attempt: int) -> Run:
        """Make an earlier version of a shot its current image (the current one is kept)."""
        run = await self.history.get_run(run_id)
        self._refuse_while_running(run)
        shot = run.shot(shot_id)  # KeyError for an unknown shot
        revisions.pick_version(shot, attempt)
        await self._save_shot(shot)
        self._emit(ev.ShotFinished(run.run_id, _snapshot(shot)))
        return run

    @_owned
    async def _edit(self, run_id: str, apply: Callable[[Run], list[Shot]]
                    ) -> tuple[Run, list[str]]:
        run = await self.history.get_run(run_id)
        self._refuse_while_running(run)
        stale = apply(run)  # EditError before anything is written
        await self._save_run(run, "script", "scenes")
        for shot in stale:
            await self._save_shot(shot)
            self._emit(ev.ShotFinished(run.run_id, _snapshot(shot)))
        return run, [s.shot_id for s in stale]

    # Owning the runs worked on (see app.core.ownership).

    async def _take(self, run_id: str) -> None:
        """Hold the run for the work about to start, or raise ``RunBusy``."""
        taken = await self.leases.acquire(run_id)
        if taken.message:
            self._emit(ev.RunTakenOver(run_id, taken.message))

    async def _let_go(self, run_id: str) -> None:
        await self.leases.release(run_id)
        self._lost.discard(run_id)

    async def _still_ours(self, run: Run) -> bool:
        """False once another process took the run over (runs not held, such as those of
        tests driving ``_drive`` directly, count as ours)."""
        if run.run_id not in self.leases.held:
            return run.run_id not in self._lost
        return await self.leases.confirm(run.run_id)

    def _lost_run(self, run_id: str) -> None:
        """Another process took the run over while ours was not heard from: stop, and
        write nothing more (the other process now keeps its record)."""
        self._lost.add(run_id)
        self.detach(run_id)

    def _refuse_while_running(self, run: Run) -> None:
        if run.run_id in self.active_runs:
            raise revisions.EditError("this run is still working: wait for it to finish, "
                                      "or cancel it, before changing it")

    def cancel(self, run_id: str) -> bool:
        """Stop a run: no new shots start, shots in flight are cancelled. Returns at once."""
        task = self._tasks.get(run_id)
        if task is None or task.done():
            return False
        if run_id not in self._cancel_requested:  # once: a second cancel would cut short
            self._cancel_requested.add(run_id)    # the recording of the first
            task.cancel()
        return True

    def detach(self, run_id: str) -> bool:
        """Stop following a run but leave it resumable: cloud jobs in flight keep running,
        their shots stay ``rendering`` with their job ids, queued shots stay queued and
        the run stays ``running``, so ``resume`` later polls those jobs instead of paying
        again. For closing the app mid-run. Returns at once."""
        task = self._tasks.get(run_id)
        if task is None or task.done() or run_id in self._cancel_requested:
            return False
        self._detached.add(run_id)
        return self.cancel(run_id)

    def detach_all(self) -> int:
        return sum(self.detach(run_id) for run_id in list(self._tasks))

    def cancel_all(self) -> int:
        return sum(self.cancel(run_id) for run_id in list(self._tasks))

    @property
    def active_runs(self) -> list[str]:
        return [rid for rid, t in self._tasks.items() if not t.done()]

    async def _restart(self, run: Run, pending: list[Shot]) -> Run:
        for shot in pending:
            if shot.status is not ShotStatus.RENDERING:  # rendering: its job may still be alive
                shot.status = ShotStatus.QUEUED
            if shot.stale == NEW_SHOT:  # a shot added to the board is drawn now (any path)
                shot.stale = None
        run.status, run.error, run.finished_at = RunStatus.RUNNING, None, None
        run.index_prompts()  # a regenerated shot may have a new prompt
        fields = ["status", "error", "finished_at", "prompt_words"]
        if run.aspect in frame.ASPECTS and frame.aspect_of(run.width, run.height) != run.aspect:
            # the aspect was changed since the last render: draw at the new aspect's size
            run.width, run.height = size_for(self.renderer, run.aspect)
            fields += ["width", "height"]
        await self._save_run(run, *fields)
        self._emit(ev.RunStarted(run.run_id, _run_snapshot(run)))
        idea = Idea(text=run.idea, kind=detect_kind(run.idea, _suffix(run.source)),
                    source=run.source)
        return await self._drive(run, idea, pending=pending)

    # Driving one run.

    async def _drive(self, run: Run, idea: Idea, pending: list[Shot] | None) -> Run:
        task = asyncio.current_task()
        assert task is not None
        self._tasks[run.run_id] = task
        started = time.monotonic()
        try:
            style = resolve_style(run.style)
            if run.script is None:
                await self._write_script(run, idea, style)
            if not run.scenes:
                await self._plan_scenes(run, idea, style)
                pending = list(run.shots)
            stopped = await self._render_shots(run, pending if pending is not None else run.shots,
                                               style.negative_prompt(NEGATIVE_PROMPT))
            run.tally()
            run.status = _outcome(run)
            if stopped:  # the budget, not a person, stopped it: partial, with the reason
                run.status = RunStatus.PARTIAL if run.shots_done else RunStatus.FAILED
            if run.status is RunStatus.FAILED and not run.error:
                run.error = _first_error(run) or "the scene plan has no shots"
        except asyncio.CancelledError:
            if run.run_id in self._detached:
                await self._leave(run, started)
            else:
                run.status = RunStatus.CANCELLED
                run.error = "cancelled"
                await self._finish(run, started)
            if run.run_id in self._cancel_requested:  # our own cancel: the run ends normally
                task.uncancel()
                return run
            raise
        except DiskError as exc:  # the disk, not a shot: stop once, say how to go on
            run.status, run.error = RunStatus.FAILED, f"{exc}, then `storyreel resume {run.run_id}`"
        except StoryreelError as exc:
            run.status, run.error = RunStatus.FAILED, str(exc)
        finally:
            self._tasks.pop(run.run_id, None)
            self._cancel_requested.discard(run.run_id)
            self._detached.discard(run.run_id)
        await self._finish(run, started)
        return run

    async def _finish(self, run: Run, started: float) -> None:
        run.tally()
        run.stage = Stage.DONE
        run.finished_at = utcnow()
        run.wall_seconds = round(run.wall_seconds + time.monotonic() - started, 3)
        await self._save_run(run, "status", "stage", "error", "finished_at", "wall_seconds",
                             "shot_count", "shots_done", "shots_failed", "gpu_seconds",
                             "queue_seconds", "stages")
        self._emit(ev.RunFinished(run.run_id, _run_snapshot(run)))

    async def _leave(self, run: Run, started: float) -> None:
        """A detached run: recorded as it stands, still ``running``, for ``resume``."""
        run.tally()
        run.wall_seconds = round(run.wall_seconds + time.monotonic() - started, 3)
        await self._save_run(run, "wall_seconds", "shot_count", "shots_done", "shots_failed",
                             "gpu_seconds", "queue_seconds", "stages")
        self._emit(ev.RunDetached(run.run_id, _run_snapshot(run)))

    async def _enter(self, run: Run, stage: Stage) -> None:
        run.stage = stage
        await self._save_run(run, "stage", later=True)
        self._emit(ev.StageStarted(run.run_id, stage))

    async def _write_script(self, run: Run, idea: Idea, style: Style) -> None:
        await self._enter(run, Stage.WRITING_SCRIPT)
        async with self._timing(run, Stage.WRITING_SCRIPT):
            with self._writer_jobs(run):
                script = await self.writer.write_script(idea, seed=run.seed, style=style.prompt)
        run.script, run.title = script, script.title
        await self._save_run(run, "script", "title", "stages", "gpu_seconds", "queue_seconds")
        self._emit(ev.ScriptWritten(run.run_id, script))

    async def _plan_scenes(self, run: Run, idea: Idea, style: Style) -> None:
        assert run.script is not None
        await self._enter(run, Stage.PLANNING_SCENES)
        async with self._timing(run, Stage.PLANNING_SCENES):
            with self._writer_jobs(run):
                plans = await self.writer.plan_scenes(idea, run.script, seed=run.seed)
        if not plans:
            raise StageError("the writer planned no scenes")
        run.scenes = [p.scene for p in plans]  # every scene of the script, drawn or not
        if run.scenes_chosen is not None:  # --scenes: the others wait in held_plans
            scenes.check_numbers(run.scenes_chosen, len(plans))
        everything = plans
        plans = limit_shots(scenes.choose(plans, run.scenes_chosen)[0], run.max_shots)
        run.held_plans = scenes.held_back(everything, plans)
        # A feature's thousands of shots: built, saved and copied for the observers a slice
        # at a time with the loop let through between (the window's loop: a frame is 16 ms).
        run.shots = [self._new_shot(run, plan, shot_plan, index, style)
                     async for plan, index, shot_plan in _in_slices(
                         (plan, index, shot_plan) for plan in plans
                         for index, shot_plan in enumerate(plan.shots, 1))]
        run.tally()
        run.index_prompts()
        async for shot in _in_slices(run.shots):  # in batches, journalled at once
            await self._save_shot(shot, later=True)
        await self._save_run(run, "scenes", "held_plans", "shot_count", "prompt_words",
                             "stages", "gpu_seconds", "queue_seconds", later=True)
        snapshots = [_snapshot(shot) async for shot in _in_slices(run.shots)]
        self._emit(ev.ScenesPlanned(run.run_id, tuple(run.scenes), tuple(snapshots)))

    def _new_shot(self, run: Run, plan: ScenePlan, shot_plan, index: int, style: Style) -> Shot:
        scene = plan.scene
        shot_id = shot_id_for(scene.index, index)
        cast = run.script.characters if run.script else []
        return Shot(
            run_id=run.run_id,
            shot_id=shot_id,
            scene=scene.index,
            index=index,
            number=shot_number(scene.index, index),
            shot_type=shot_plan.shot_type,
            camera=shot_plan.camera,
            description=shot_plan.description,
            characters=shot_plan.characters,
            dialogue=shot_plan.dialogue,
            prompt=build_shot_prompt(shot_plan, scene, cast, style.prompt),
            seed=derive_seed(run.seed, shot_id),
        )

    async def _render_shots(self, run: Run, shots: list[Shot], negative_prompt: str) -> bool:
        """The fan-out: ``concurrency`` workers take shots in story order from one queue.
        Returns True when the run's GPU budget stopped it before every shot started."""
        await self._enter(run, Stage.RENDERING_SHOTS)
        headings = {scene.index: scene.heading for scene in run.scenes}
        queue = deque(sorted(shots, key=lambda s: s.order))

        budget = run.budget_gpu_s

        async def work() -> None:
            while queue:
                if budget is not None and run.gpu_seconds >= budget:
                    return  # shots in flight finish (they are paid for); no new ones start
                shot = queue.popleft()
                await self._render_shot(run, shot, headings.get(shot.scene, ""), negative_prompt)

        workers = [asyncio.create_task(work()) for _ in range(min(self.concurrency, len(queue)))]
        over = False
        self._counts[run.run_id] = RunCounts(run)
        try:
            async with self._timing(run, Stage.RENDERING_SHOTS):
                await asyncio.gather(*workers)
        finally:
            # On cancel (or a bug in a worker) stop the others and wait until they have
            # recorded their shots as cancelled: no stray tasks outlive the run. A worker
            # that gather already cancelled is not cancelled twice, or the second cancel
            # would cut short its recording of the first.
            for w in workers:
                if not w.done() and not w.cancelling():
                    w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if run.run_id not in self._detached:  # detached: they stay queued, for resume
                over = budget is not None and run.gpu_seconds >= budget and bool(queue)
                for shot in queue:  # never started
                    shot.status = ShotStatus.CANCELLED
                    shot.error = "not rendered: the run's GPU budget was spent" if over else None
                    await self._save_shot(shot)
                    self._emit(ev.ShotFinished(run.run_id, _snapshot(shot)))
                if over:
                    run.error = (f"stopped at the GPU budget: {run.gpu_seconds:g} of "
                                 f"{budget:g} GPU seconds spent, {len(queue)} shots not rendered")
            self._counts.pop(run.run_id, None)
        return over

    async def _render_shot(self, run: Run, shot: Shot, heading: str, negative: str) -> None:
        """Render one shot to a final state (done, failed, or cancelled), then record and
        announce it. A cancel may land at any await, a history write included: the shot
        is then recorded as cancelled, unless it had already finished."""
        try:
            await self._attempts(run, shot, heading, negative)
            await self._announce_final(run, shot)
        except asyncio.CancelledError:
            if run.run_id in self._detached and not shot.status.finished:
                await self._save_shot(shot)  # still rendering, with its job id: resumable
                raise
            if not shot.status.finished:
                shot.status, shot.error = ShotStatus.CANCELLED, "cancelled"
            await self._announce_final(run, shot)
            raise

    async def _announce_final(self, run: Run, shot: Shot) -> None:
        await self._still_ours(run)  # (given up meanwhile: the saves below are skipped)
        await self._save_shot(shot)  # now: a finished (paid for) shot is never drawn twice
        await self._save_counts(run, shot)
        self._emit(ev.ShotFinished(run.run_id, _snapshot(shot)))

    async def _attempts(self, run: Run, shot: Shot, heading: str, negative: str) -> None:
        """Submit attempts until one succeeds, a failure is final, or retries run out."""
        resume_job = shot.job_id if shot.status is ShotStatus.RENDERING else None
        tries = 0
        while True:
            tries += 1
            if resume_job is None and not await self._still_ours(run):
                raise asyncio.CancelledError  # taken over while this process was frozen
            if resume_job is None:
                shot.attempts += 1
                shot.job_id = None
            shot.status, shot.error = ShotStatus.RENDERING, None
            await self._save_shot(shot, later=True)
            self._emit(ev.ShotStarted(run.run_id, _snapshot(shot)))
            request = RenderRequest(
                shot=_snapshot(shot),
                scene_heading=heading,
                attempt=max(shot.attempts, 1),
                width=run.width,
                height=run.height,
                negative_prompt=negative,
                resume_job_id=resume_job,
                on_job=lambda job_id, shot=shot: self._record_job(shot, job_id),
                keep_job=lambda: run.run_id in self._detached,
            )
            resume_job = None
            started = time.monotonic()
            try:
                result = await self.renderer.render_shot(request)
            except DiskError as exc:  # no retry, no other shot: the run stops (see _drive)
                shot.status, shot.error = ShotStatus.CANCELLED, str(exc)
                await self._announce_final(run, shot)
                raise
            except Exception as exc:  # (a cancel is not an Exception: it goes straight up)
                retryable = isinstance(exc, RenderError) and exc.retryable
                message = str(exc) if isinstance(exc, StoryreelError) else _bug(exc)
                shot.error = message
                if isinstance(exc, RenderError) and exc.gpu_s:  # paid for, even if failed
                    failed = shot.timings.get("failed_gpu_s", 0.0) + exc.gpu_s
                    shot.timings = {**shot.timings, "failed_gpu_s": round(failed, 3),
                                    "failed_jobs": shot.timings.get("failed_jobs", 0) + 1}
                if retryable and tries < self.retry_policy.max_attempts:
                    delay = self.retry_policy.delay(tries, self._rng)
                    shot.status = ShotStatus.QUEUED
                    await self._save_shot(shot, later=True)
                    self._emit(ev.ShotRetrying(run.run_id, _snapshot(shot), message, delay))
                    await self._sleep(delay)
                    continue
                shot.status = ShotStatus.FAILED
                return
            shot.image, shot.model = result.image, result.model
            shot.job_id = result.job_id or shot.job_id
            failed = {k: v for k, v in shot.timings.items() if k.startswith("failed_")}
            shot.timings = {**result.timings, **failed,
                            "wall_s": round(time.monotonic() - started, 3)}
            shot.image_attempt = None
            shot.status = ShotStatus.DONE
            return

    def _writer_jobs(self, run: Run):
        """Writer jobs are written to history as RunPod returns their ids; a resumed stage
        polls them instead of paying again (``app.core.writers.jobs``)."""
        return recording_jobs(run.writer_jobs, lambda: self._save_run(run, "writer_jobs"),
                              keep=lambda: run.run_id in self._detached)

    async def _record_job(self, shot: Shot, job_id: str) -> None:
        shot.job_id = job_id
        await self._save_shot(shot)  # now, not later: in the database before the first poll

    # Persistence. A history failure is logged and the run goes on: losing the
    # record of a change is bad, losing the run over it is worse.

    @asynccontextmanager
    async def _timing(self, run: Run, stage: Stage) -> AsyncIterator[None]:
        """Add the stage's wall time, and the cloud jobs that end inside it, to the run's
        record of that stage (a resumed or retried stage adds to what it cost before)."""
        started = time.monotonic()
        with metering() as meter:
            try:
                yield
            finally:
                spent = StageTimes(jobs=meter.jobs, gpu_s=round(meter.gpu_s, 3),
                                   queue_s=round(meter.queue_s, 3),
                                   wall_s=round(time.monotonic() - started, 3))
                run.stages = {**run.stages,
                              stage.value: run.stages.get(stage.value, StageTimes()).plus(spent)}
                run.tally()

    async def _save_shot(self, shot: Shot, *, later: bool = False) -> None:
        """``later``: the fan-out's passing states (rendering, queued for a retry), which the
        store may batch (journalled at once where it keeps a journal), so that a shot's
        worker waits for one round trip, not four (issue 16). Job ids and final states are
        written now: another process that takes the run over (this one frozen) must find
        them in the database, not in this process's journal."""
        if shot.run_id in self._lost:
            return
        shot.updated_at = utcnow()
        try:
            await self.history.upsert_shot(shot, later=later)
        except HistoryError as exc:
            log.warning("history: shot %s of %s not saved: %s", shot.shot_id, shot.run_id, exc)

    async def _save_counts(self, run: Run, shot: Shot) -> None:
        counts = self._counts.get(run.run_id)
        if counts is not None:
            counts.land(shot)  # O(1), where tally() walks every shot (issue 16)
        else:
            run.tally()
        await self._save_run(run, "shots_done", "shots_failed", "gpu_seconds", "queue_seconds",
                             later=True)

    async def _save_run(self, run: Run, *fields: str, later: bool = False) -> None:
        if run.run_id in self._lost:
            return
        run.updated_at = utcnow()
        doc = run.model_dump(mode="json", include={*fields, "updated_at"})
        try:
            await self.history.update_run(run.run_id, doc, later=later)
        except HistoryError as exc:
            log.warning("history: run %s not saved: %s", run.run_id, exc)


def _keep_version(shot: Shot) -> None:
    """Before a finished shot is rendered again, keep its image as an earlier version."""
    if shot.image is None:
        return
    shot.versions = [*shot.versions, revisions.current_version(shot)]
    shot.image, shot.job_id, shot.timings, shot.image_attempt = None, None, {}, None
    shot.model = ""
    shot.status = ShotStatus.QUEUED


def _snapshot(shot: Shot) -> Shot:
    """A copy of the shot as it is now, for listeners. Shallow is enough: the pipeline only
    ever assigns new values to a shot's fields, it never changes a value in place."""
    return shot.model_copy()


def _run_snapshot(run: Run) -> Run:
    return run.model_copy(update={"shots": [s.model_copy() for s in run.shots]})


def limit_shots(plans: list[ScenePlan], max_shots: int | None) -> list[ScenePlan]:
    """Keep at most ``max_shots`` shots, spread over the scenes: every scene keeps its
    first shot before any scene keeps a second one. Scenes left with none are dropped."""
    total = sum(len(p.shots) for p in plans)
    if max_shots is None or total <= max_shots:
        return plans
    keep = [0] * len(plans)
    budget = max_shots
    depth = 0
    while budget:
        for i, plan in enumerate(plans):
            if budget and len(plan.shots) > depth:
                keep[i] += 1
                budget -= 1
        depth += 1
    return [ScenePlan(scene=p.scene, shots=p.shots[:k]) for p, k in zip(plans, keep, strict=True)
            if k]


def _outcome(run: Run) -> RunStatus:
    if not run.shots or run.shots_done == 0:
        return RunStatus.FAILED
    if run.shots_done == len(run.shots):
        return RunStatus.COMPLETED
    if any(s.status is ShotStatus.CANCELLED for s in run.shots) and run.shots_failed == 0:
        return RunStatus.CANCELLED
    return RunStatus.PARTIAL


def _first_error(run: Run) -> str | None:
    errors = [s.error for s in run.shots if s.status is ShotStatus.FAILED and s.error]
    if not errors:
        return None
    return f"every shot failed; first error: {errors[0]}"


def _bug(exc: Exception) -> str:
    log.error("renderer raised an unexpected error", exc_info=exc)
    return f"internal error in the renderer ({type(exc).__name__}); see the log"


def _suffix(source: str | None) -> str:
    if not source or "." not in source:
        return ""
    return "." + source.rsplit(".", 1)[-1].split(" ", 1)[0].lower()
