"""The commands of the CLI (``app/cli.py`` parses, this runs): run, history, show, retry,
resume, export, delete, orphans, doctor.

Results go to stdout (one JSON object per line with ``--json``), progress and
errors to stderr. Exit codes: 0 every run completed, 1 a run was partial,
failed or cancelled, or its history could not be written (or a check failed),
2 bad input or bad configuration (or a paid run without a writable history).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from app import __version__
from app.core import frame, ideas, ownership, scenes
from app.core.errors import ConfigError, IdeaError, RunNotFound, StorageError, StoryreelError
from app.core.export import (
    FORMATS,
    EncodeError,
    ExportError,
    ExportOptions,
    UnknownFormat,
    export_run,
)
from app.core.history import PageCursor
from app.core.models import Run, RunOptions, RunStatus, Shot
from app.core.pipeline import Pipeline
from app.core.progress import ProgressPrinter
from app.core.renderers import size_for
from app.core.revisions import EditError
from app.core.services import Services, open_services
from app.core.settings import load_settings
from app.core.storage.run_objects import (
    delete_orphans,
    find_orphans,
    run_prefix,
)
from app.core.styles import StyleError, resolve_style
from app.core.text import printable
from app.core.timing import board_duration, format_duration, shot_duration

EXIT_OK, EXIT_RUN_NOT_COMPLETE, EXIT_BAD_INPUT = 0, 1, 2
T = TypeVar("T")


class UsageError(StoryreelError):
    """Bad arguments that argparse itself cannot see."""


class HistoryRequired(UsageError):
    """A paid run asked for while history cannot be written (exit 2: nothing started)."""


class RunNotRecorded(StoryreelError):
    """Runs ended, but history did not take all their changes (exit 1)."""


def _t(text: object) -> str:
    """Stored or remote text (titles, errors, headings) as one line without control
    characters, for the terminal: an escape sequence in a title must not reach it.
    JSON output needs none of this (``json.dumps`` escapes them)."""
    return printable(text, one_line=True)


def dispatch(args: argparse.Namespace) -> int:
    """Run one command to its exit code: 0 done, 1 not complete, 2 bad input."""
    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(args))
    except EncodeError as exc:  # the encoder failed: not the person's input
        print(f"storyreel: {_t(exc)}", file=sys.stderr)
        return EXIT_RUN_NOT_COMPLETE
    except (IdeaError, ConfigError, UsageError, RunNotFound, ExportError, StyleError,
            EditError) as exc:
        print(f"storyreel: {_t(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StoryreelError as exc:
        print(f"storyreel: {_t(exc)}", file=sys.stderr)
        return EXIT_RUN_NOT_COMPLETE
    except KeyboardInterrupt:
        print("storyreel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `storyreel show RUN | head`: the reader has had enough
        # Python flushes stdout again at exit; onto /dev/null, so that it cannot fail again
        # (the recipe of the signal module's documentation, "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # as a process that SIGPIPE ended: a shell says nothing of it


# Commands.


async def cmd_run(args: argparse.Namespace) -> int:
    # Every idea is read and checked before anything is created: one bad file changes nothing.
    batch = _read_ideas(args.ideas, args.text)
    resolve_style(args.style)  # a misspelt preset is refused before anything starts
    numbers = scenes.parse_spec(args.scenes) if args.scenes is not None else None
    aspect = _aspect(args.aspect)
    options = RunOptions(max_shots=args.max_shots, seed=args.seed, style=args.style,
                         budget_gpu_s=args.budget_gpu_seconds, scenes=numbers, aspect=aspect)
    settings = load_settings()
    async with _services(settings) as services:
        sizes = [_script_size(idea, numbers, services) for idea in batch]  # before any cost
        if not args.estimate:
            await _require_recorded(services)
        notices: list[str | None] = [None] * len(batch)
        if args.estimate or services.runs_on_gpu:
            estimate = await services.estimate(max_shots=args.max_shots,
                                               budget_gpu_s=args.budget_gpu_seconds,
                                               aspect=aspect)
            if len(sizes) == 1 and sizes[0] is not None:  # its size, and what is drawn
                estimate = estimate.with_script(
                    sizes[0].scenes, sizes[0].shots,
                    scenes.drawn_shots(sizes[0], numbers, args.max_shots))
            notices = [_cap_notice(size, numbers, args, estimate.shot_gpu_s) for size in sizes]
            if args.estimate:
                width, height = size_for(services.renderer, aspect)
                if args.json:
                    _emit_json({**estimate.as_dict(), "scenes_notice": notices[0],
                                "aspect": aspect, "width": width, "height": height})
                else:
                    each = "each run: " if len(batch) > 1 else ""
                    print(f"{each}{estimate.describe()}")
                    print(f"frame: {aspect}, {width} x {height}")
                    _print_notices(batch, notices)
                return EXIT_OK
            print(f"storyreel: {estimate.describe()}", file=sys.stderr)
        else:
            notices = [_cap_notice(size, numbers, args, 0.0) for size in sizes]
        _print_notices(batch, notices)
        pipeline = services.pipeline(concurrency=args.concurrency)
        await _mention_unfinished(services, pipeline)
        runs = await _each_run(services, pipeline, batch, lambda idea: idea.label,
                               lambda idea: pipeline.start(idea, options), args.json)
        return _exit_code(runs) if len(runs) == len(batch) else EXIT_RUN_NOT_COMPLETE


def _aspect(text: str) -> str:
    """``--aspect`` as its label; a ratio we do not draw is bad input (exit 2)."""
    try:
        return frame.parse_aspect(text)
    except frame.AspectError as exc:
        raise UsageError(f"--aspect: {exc}") from None


def _script_size(idea: ideas.Idea, numbers: list[int] | None,
                 services: Services) -> scenes.ScriptSize | None:
    """The script's scenes and shots, known offline when its scenes are the idea's own (a
    screenplay, or any idea for the offline writer), with ``--scenes`` checked against
    them before anything starts; None when a cloud writer will write the script from
    prose (its scenes are known, and ``--scenes`` checked, once it has planned)."""
    if idea.kind is not ideas.IdeaKind.FOUNTAIN and not services.writer.name.startswith("draft"):
        return None
    size = scenes.script_size(idea)
    if numbers is not None:
        scenes.check_numbers(numbers, size.scenes)
    return size


def _cap_notice(size: scenes.ScriptSize | None, numbers: list[int] | None, args: argparse.Namespace,
                shot_gpu_s: float) -> str | None:
    if size is None:
        return None
    return scenes.cap_notice(size, numbers=numbers, max_shots=args.max_shots,
                             budget_gpu_s=args.budget_gpu_seconds, shot_gpu_s=shot_gpu_s)


def _print_notices(batch: list[ideas.Idea], notices: list[str | None]) -> None:
    """What a cap leaves out of each script, said on stderr before anything starts."""
    for idea, notice in zip(batch, notices, strict=True):
        if notice:
            where = f"{_t(idea.label)}: " if len(batch) > 1 else ""
            print(f"storyreel: {where}{notice}", file=sys.stderr)


async def cmd_history(args: argparse.Namespace) -> int:
    async with _services(load_settings()) as services:
        runs = await services.history.list_runs(limit=args.limit, search=args.search)
        if args.json:
            for run in runs:
                _emit_json(_run_summary(run))
            return EXIT_OK
        if not runs:
            print("no runs yet" if not args.search else f"no runs match {_t(repr(args.search))}")
        for run in runs:
            print(f"{run.created_at:%Y-%m-%d %H:%M}  {run.status.value:<9}  "
                  f"{run.shots_done:>3}/{run.shot_count:<3}  {run.run_id}  {_t(run.title) or '-'}")
        return EXIT_OK


async def cmd_show(args: argparse.Namespace) -> int:
    async with _services(load_settings()) as services:
        run = await services.history.get_run(args.run_id)
        if args.json:
            await _print_json(services, run)
            return EXIT_OK
        print(f"{_t(run.title)}  [{run.status.value}]  {run.run_id}")
        if run.script:
            print(f"  {_t(run.script.logline)}")
        if run.error:
            print(f"  error: {_t(run.error)}")
        for line in _cost_lines(run):
            print(f"  {line}")
        print(f"  frame {run.aspect}, running time {format_duration(board_duration(run.shots))}")
        held = {p.scene.index for p in run.held_plans}
        for scene in run.scenes:
            print(f"\n  {scene.index}. {_t(scene.heading)}")
            if scene.index in held:
                print(f"     not storyboarded yet: storyreel resume {run.run_id} "
                      f"--scenes {scene.index}")
            for shot in (s for s in run.shots if s.scene == scene.index):
                path, problem = await _local_image(services, shot)
                where = str(path) if path else (shot.error or problem or "")
                print(f"     {_t(shot.number):<5} {shot.shot_type.value:<6} "
                      f"{shot.status.value:<9} {format_duration(shot_duration(shot)):>6}  "
                      f"{_t(shot.description)[:60]}")
                if shot.note:
                    print(f"           note: {_t(shot.note)}")
                if shot.stale:
                    print(f"           stale: {_t(shot.stale)}")
                if shot.versions:
                    kept = ", ".join(str(v.attempt) for v in shot.versions)
                    print(f"           earlier versions: {kept} (storyreel pick)")
                if where:
                    print(f"           {_t(where)}")
        return EXIT_OK


async def cmd_edit(args: argparse.Namespace) -> int:
    character = args.character is not None or args.look is not None
    scene = args.scene is not None or args.heading is not None or args.summary is not None
    if getattr(args, "aspect", None) is not None:
        if character or scene:
            raise UsageError("edit the frame (--aspect) on its own, not with a character "
                             "or a scene")
        return await _edit_aspect(args)
    if character == scene:
        raise UsageError("edit either a character (--character NAME --look TEXT) or a scene "
                         "(--scene N with --heading and/or --summary)")
    if character and (args.character is None or args.look is None):
        raise UsageError("--character and --look go together")
    if scene and args.scene is None:
        raise UsageError("--heading and --summary need --scene N")
    async with _services(load_settings()) as services:
        pipeline = services.pipeline()
        if character:
            run, stale = await pipeline.edit_character(args.run_id, args.character, args.look)
        else:
            run, stale = await pipeline.edit_scene(args.run_id, args.scene, heading=args.heading,
                                                   summary=args.summary)
        if not stale:
            print("no shot's prompt changed: nothing to regenerate")
            return EXIT_OK
        numbers = ", ".join(run.shot(sid).number for sid in stale)
        print(f"{len(stale)} shots now stale: {_t(numbers)}")
        print(f"render them again with: storyreel regenerate {run.run_id} --stale")
        return EXIT_OK


async def _edit_aspect(args: argparse.Namespace) -> int:
    """``edit RUN_ID --aspect A``: the board's new frame; every drawn shot goes stale."""
    async with _services(load_settings()) as services:
        edit = await services.pipeline().board.set_aspect(args.run_id, args.aspect)
        run = edit.run
        print(f"frame now {run.aspect} ({run.width}x{run.height})")
        _say_stale(run, edit.stale)
        return EXIT_OK


def _say_stale(run: Run, stale: list[str]) -> None:
    if stale:
        numbers = ", ".join(run.shot(sid).number for sid in stale)
        print(f"{len(stale)} shot{'s' if len(stale) != 1 else ''} now stale: {_t(numbers)}; "
              f"draw {'them' if len(stale) != 1 else 'it'} with: "
              f"storyreel regenerate {run.run_id} --stale", file=sys.stderr)


async def cmd_shot(args: argparse.Namespace) -> int:
    """``shot add|duplicate|delete|move|set``: shaping the board shot by shot
    (``app.core.board``)."""
    async with _services(load_settings()) as services:
        edits = services.pipeline().board
        if args.shot_command == "delete":
            run = await services.history.get_run(args.run_id)
            shot = _board_shot(run, args.shot_id)
            drawn = [shot.image] if shot.image else []
            drawn += [v.image for v in shot.versions]
            if drawn and not args.yes:
                images = f"{len(drawn)} image{'s' if len(drawn) != 1 else ''}"
                if not sys.stdin.isatty():
                    raise UsageError(f"shot {shot.number} ({shot.shot_id}) has {images}: add "
                                     f"--yes to take it off the board (its images stay in "
                                     f"storage until the run is deleted)")
                answer = await asyncio.to_thread(
                    input, f"Take shot {_t(shot.number)} ({shot.shot_id}) and its {images} "
                           f"off the board? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    print("nothing deleted", file=sys.stderr)
                    return EXIT_RUN_NOT_COMPLETE
            await edits.delete_shot(args.run_id, args.shot_id)
            print(f"deleted shot {_t(shot.number)} ({shot.shot_id})", file=sys.stderr)
            return EXIT_OK
        if args.shot_command == "move":
            edit = await edits.move_shot(args.run_id, args.shot_id, after=args.after,
                                         scene=args.scene)
        elif args.shot_command == "duplicate":
            edit = await edits.duplicate_shot(args.run_id, args.shot_id)
        elif args.shot_command == "add":
            edit = await edits.add_shot(
                args.run_id, after=args.after, scene=args.scene, text=args.text,
                framing=args.framing, camera=args.camera, dialogue=args.dialogue,
                characters=_names(args.characters), duration_s=args.duration,
                note=args.note or "")
        else:
            edit = await edits.set_shot(
                args.run_id, args.shot_id, description=args.text, framing=args.framing,
                camera=args.camera, dialogue=args.dialogue,
                characters=_names(args.characters), duration_s=args.duration, note=args.note)
        assert edit.shot_id is not None
        shot = edit.run.shot(edit.shot_id)
        if args.shot_command in ("add", "duplicate"):
            print(shot.shot_id)  # for scripts: the new shot's id, alone on stdout
            print(f"{'added' if args.shot_command == 'add' else 'copied ' + args.shot_id + ' as'}"
                  f" shot {_t(shot.number)} ({shot.shot_id})", file=sys.stderr)
        else:
            print(f"shot {shot.shot_id} is {_t(shot.number)}", file=sys.stderr)
        _say_stale(edit.run, edit.stale)
        return EXIT_OK


def _board_shot(run: Run, shot_id: str) -> Shot:
    try:
        return run.shot(shot_id)
    except KeyError:
        raise UsageError(f"run {run.run_id} has no shot {shot_id!r}") from None


def _names(text: str | None) -> list[str] | None:
    """``--characters "Mara, Theo"`` as names; ``''`` is nobody; None leaves them."""
    if text is None:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


async def cmd_regenerate(args: argparse.Namespace) -> int:
    if args.stale and (args.seed is not None or args.prompt is not None):
        raise UsageError("--seed and --prompt go with --shot, not --stale")
    async with _services(load_settings()) as services:
        await _require_recorded(services)
        pipeline = services.pipeline()
        run = await services.history.get_run(args.run_id)
        if args.shot is not None and args.shot not in {s.shot_id for s in run.shots}:
            raise UsageError(f"run {run.run_id} has no shot {args.shot!r}")
        if args.stale and not any(s.stale for s in run.shots):
            print("no shot is stale: nothing to render")
            return EXIT_OK

        def drive(r: Run) -> Awaitable[Run]:
            if args.stale:
                return pipeline.regenerate_stale(r.run_id)
            return pipeline.regenerate(r.run_id, args.shot, seed=args.seed, prompt=args.prompt)

        runs = await _each_run(services, pipeline, [run], lambda r: r.title or r.run_id, drive,
                               args.json)
        return _exit_code(runs) if runs else EXIT_RUN_NOT_COMPLETE


async def cmd_pick(args: argparse.Namespace) -> int:
    async with _services(load_settings()) as services:
        run = await services.history.get_run(args.run_id)
        if args.shot_id not in {s.shot_id for s in run.shots}:
            raise UsageError(f"run {run.run_id} has no shot {args.shot_id!r}")
        run = await services.pipeline().pick_version(args.run_id, args.shot_id, args.attempt)
        shot = run.shot(args.shot_id)
        path, problem = await _local_image(services, shot)
        print(f"shot {_t(shot.number)} now shows version {args.attempt}: {_t(path or problem)}")
        return EXIT_OK


async def cmd_retry(args: argparse.Namespace) -> int:
    async with _services(load_settings()) as services:
        await _require_recorded(services)
        pipeline = services.pipeline()
        run = await services.history.get_run(args.run_id)
        if args.shot:
            unknown = [s for s in args.shot if s not in {x.shot_id for x in run.shots}]
            if unknown:
                raise UsageError(f"run {run.run_id} has no shot {unknown[0]!r}")
        runs = await _each_run(services, pipeline, [run], lambda r: r.title or r.run_id,
                               lambda r: pipeline.retry(r.run_id, args.shot), args.json)
        return _exit_code(runs) if runs else EXIT_RUN_NOT_COMPLETE


async def cmd_resume(args: argparse.Namespace) -> int:
    if args.scenes is not None:
        return await _storyboard_more(args)
    async with _services(load_settings()) as services:
        await _require_recorded(services)
        pipeline = services.pipeline()
        if args.run_id:
            targets = [await services.history.get_run(args.run_id)]
        else:
            unfinished = await services.history.find_unfinished()
            # Runs another live process is rendering are left to it, said once each.
            now = ownership.now_ms()
            targets, busy = ownership.split_unfinished(unfinished, pipeline.leases.identity,
                                                       now)
            for run in busy:
                assert run.owner is not None
                print(f"storyreel: {ownership.busy_message(run.run_id, run.owner, now)}",
                      file=sys.stderr)
            if not targets:
                print("nothing to resume: no unfinished runs"
                      + (" that no other process is rendering" if busy else ""),
                      file=sys.stderr)
                return EXIT_OK
        runs = await _each_run(services, pipeline, targets, lambda run: run.title or run.run_id,
                               lambda run: pipeline.resume(run.run_id), args.json)
        return _exit_code(runs) if len(runs) == len(targets) else EXIT_RUN_NOT_COMPLETE


async def _storyboard_more(args: argparse.Namespace) -> int:
    """``resume RUN_ID --scenes 13-20``: storyboard more scenes into the same run."""
    if not args.run_id:
        raise UsageError("--scenes needs the run: storyreel resume RUN_ID --scenes 13-20")
    numbers = scenes.parse_spec(args.scenes)
    async with _services(load_settings()) as services:
        run = await services.history.get_run(args.run_id)
        scenes.check_numbers(numbers, len(run.scenes))
        boarded = sorted({s.scene for s in run.shots if s.scene in numbers})
        held = {p.scene.index for p in run.held_plans}
        new = [n for n in numbers if n in held]
        if boarded:
            which = (f"scene {boarded[0]} already has" if len(boarded) == 1
                     else f"scenes {scenes.describe(boarded)} already have")
            print(f"storyreel: {which} shots, kept as they are", file=sys.stderr)
        if not new:
            print("nothing to storyboard: " + ("those scenes have shots already"
                                               if boarded else "no shot plan is kept for "
                                               "those scenes"), file=sys.stderr)
            return EXIT_OK
        await _require_recorded(services)
        pipeline = services.pipeline()
        runs = await _each_run(services, pipeline, [run], lambda r: r.title or r.run_id,
                               lambda r: pipeline.storyboard_scenes(r.run_id, new), args.json)
        return _exit_code(runs) if runs else EXIT_RUN_NOT_COMPLETE


async def cmd_export(args: argparse.Namespace) -> int:
    if args.format not in FORMATS:
        raise UnknownFormat(args.format, list(FORMATS))
    options = ExportOptions(overwrite=args.force, page_size=args.page_size,
                            orientation=args.orientation, columns=args.columns,
                            seconds_per_shot=args.seconds, captions=args.captions)
    async with _services(load_settings()) as services:
        run = await services.history.get_run(args.run_id)

        def progress(fraction: float, message: str) -> None:
            print(f"\r{fraction:4.0%} {_t(message)}", end="", file=sys.stderr, flush=True)

        exporting = asyncio.ensure_future(export_run(
            run, args.format, args.out, image_path=services.image_path, options=options,
            progress=progress, scratch=services.settings.home / "tmp"))
        with _StopOnSigint(exporting.cancel) as stop:  # Ctrl-C or SIGTERM: cleanly
            try:
                written = await exporting
            except asyncio.CancelledError:
                if not stop.requested:
                    raise
                print("\nstoryreel: export cancelled; nothing was written", file=sys.stderr)
                return EXIT_RUN_NOT_COMPLETE
        print(f"\nwrote {written}", file=sys.stderr)
        return EXIT_OK


async def cmd_delete(args: argparse.Namespace) -> int:
    async with _services(load_settings()) as services:
        run = await services.history.get_run(args.run_id)
        keys = [] if args.keep_images else await services.store.list(run_prefix(run.run_id))
        what = f"run {run.run_id} ({_t(run.title) or 'untitled'})"
        if keys:
            what += f" and its {len(keys)} image file{'s' if len(keys) != 1 else ''}"
        if not _confirm(f"Delete {what}?", args.yes):
            print("nothing deleted", file=sys.stderr)
            return EXIT_RUN_NOT_COMPLETE
        deleted = await services.delete_run(run.run_id, keep_images=args.keep_images)
        print(f"deleted run {run.run_id}" + (f" and {deleted} objects" if deleted else ""),
              file=sys.stderr)
        return EXIT_OK


async def cmd_orphans(args: argparse.Namespace) -> int:
    async with _services(load_settings()) as services:
        known = await _all_run_ids(services)
        found = await find_orphans(services.store, known)
        for run_id in found.run_ids:
            print(f"{_t(run_id)}  {len(found.by_run[run_id])} objects")
        if not found:
            print("no orphaned objects", file=sys.stderr)
            return EXIT_OK
        if args.delete:
            if not _confirm(f"Delete {len(found.keys)} orphaned objects?", args.yes):
                print("nothing deleted", file=sys.stderr)
                return EXIT_RUN_NOT_COMPLETE
            deleted = await delete_orphans(services.store, found)
            print(f"deleted {deleted} objects", file=sys.stderr)
        return EXIT_OK


async def _all_run_ids(services: Services) -> set[str]:
    ids: set[str] = set()
    before = None
    while True:  # page by a cursor (time, then id): no skip-scans, no run skipped
        page = await services.history.list_runs(limit=500, before=before)
        ids.update(r.run_id for r in page)
        if len(page) < 500:
            return ids
        before = PageCursor.after(page[-1])


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question[:-1].lower()}: add --yes to confirm without a terminal")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


async def cmd_doctor(args: argparse.Namespace) -> int:
    from app.core.doctor import check_all  # only this command needs it

    settings = load_settings()
    async with _services(settings) as services:
        checks = await check_all(services)
    ok = all(c["ok"] for c in checks)
    if args.json:
        _emit_json({"ok": ok, "version": __version__, "home": str(settings.home),
                    "sources": list(settings.sources), "warnings": list(settings.warnings),
                    "parts": checks})
    else:
        print(f"settings from: {', '.join(settings.sources)}")
        for warning in settings.warnings:
            print(f"warn {warning}")
        for c in checks:
            mark = "ok  " if c["ok"] else "FAIL"
            print(f"{mark} {c['name']:<9} {c['mode']:<9} {_t(c['detail'])}: {_t(c['message'])}")
    return EXIT_OK if ok else EXIT_RUN_NOT_COMPLETE


COMMANDS: dict[str, Callable[[argparse.Namespace], Awaitable[int]]] = {
    "run": cmd_run,
    "history": cmd_history,
    "show": cmd_show,
    "edit": cmd_edit,
    "regenerate": cmd_regenerate,
    "pick": cmd_pick,
    "retry": cmd_retry,
    "resume": cmd_resume,
    "export": cmd_export,
    "delete": cmd_delete,
    "orphans": cmd_orphans,
    "doctor": cmd_doctor,
    "shot": cmd_shot,
}


# Helpers.


class _services:
    """``async with _services(settings) as services``: open every part, always close them."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.services: Services | None = None

    async def __aenter__(self) -> Services:
        self.services = await open_services(self.settings)
        reason = getattr(self.services.history, "reason", None)
        if reason:  # runs still work; say once that they are not being kept
            print(f"storyreel: history is unavailable, runs are not kept: {_t(reason)}",
                  file=sys.stderr)
        return self.services

    async def __aexit__(self, *exc: object) -> None:
        if self.services is not None:
            await self.services.aclose()


class _StopOnSigint:
    """First Ctrl-C cancels the runs cleanly (they are recorded as cancelled); a second
    one interrupts at once."""

    def __init__(self, cancel: Callable[[], int]) -> None:
        self.cancel = cancel
        self.requested = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> _StopOnSigint:
        self._loop = asyncio.get_running_loop()
        try:
            self._loop.add_signal_handler(signal.SIGINT, self._on_sigint)
            self._loop.add_signal_handler(signal.SIGTERM, self._on_sigint)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            self._loop = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGINT)
            self._loop.remove_signal_handler(signal.SIGTERM)

    def _on_sigint(self) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstoryreel: cancelling… (Ctrl-C again to quit at once)", file=sys.stderr)
        self.cancel()


async def _each_run(services: Services, pipeline: Pipeline, items: list[T],
                    label: Callable[[T], str], drive: Callable[[T], Awaitable[Run]],
                    as_json: bool) -> list[Run]:
    """Drive one run per item, one after another, with progress on stderr. Ctrl-C cancels
    the run in flight and starts no more; the runs that ended are returned. When history
    did not take every change, each JSON line says why (``history_error``) and
    ``RunNotRecorded`` is raised once all runs have ended."""
    runs: list[Run] = []
    problems: list[str] = []
    stop = _StopOnSigint(pipeline.cancel_all)
    with stop:
        for item in items:
            if stop.requested:
                break
            unsubscribe = pipeline.subscribe(ProgressPrinter(sys.stderr, label=label(item)))
            try:
                run = await drive(item)
            except ownership.RunBusy as exc:  # another live process has it: leave it alone
                print(f"storyreel: {exc}", file=sys.stderr)
                continue
            finally:
                unsubscribe()
            runs.append(run)
            problem = await _unrecorded(services)
            if problem:
                problems.append(problem)
            if as_json:
                _emit_json({**await _run_result(services, run), "history_error": problem})
    if problems:  # after every run's own line; the reason on stderr, exit 1
        raise RunNotRecorded(f"history was not fully written: {problems[-1]}")
    return runs


async def _require_recorded(services: Services) -> None:
    """A run on RunPod starts only with a history that takes writes: a run that cannot be
    recorded cannot be resumed without paying twice. Raises ``HistoryRequired`` (exit 2)."""
    check = getattr(services.history, "check_writable", None)
    if not services.runs_on_gpu or check is None:
        return
    try:
        await check()
    except StoryreelError as exc:
        raise HistoryRequired(
            f"not started: this run would be paid for on RunPod, but history cannot be "
            f"written ({exc}); a run that cannot be recorded cannot be resumed without "
            f"paying twice. Fix the history (see `storyreel doctor`), then try again") from None


async def _unrecorded(services: Services) -> str | None:
    """Why changes to history so far were not all written, or None (see the stores'
    ``unrecorded``)."""
    check = getattr(services.history, "unrecorded", None)
    return await check() if check is not None else None


def _read_ideas(paths: list[str], texts: list[str]) -> list[ideas.Idea]:
    if not paths and not texts:
        raise UsageError("give at least one idea file, or --text 'an idea'")
    batch: list[ideas.Idea] = []
    for p in paths:
        if p == "-":
            data = sys.stdin.buffer.read()
            batch.append(ideas.from_text(ideas.decode(data, "standard input"),
                                         source="standard input"))
        else:
            batch.extend(ideas.read(p))
    batch.extend(ideas.from_text(t, source=None) for t in texts)
    return batch


async def _mention_unfinished(services: Services, pipeline: Pipeline) -> None:
    try:
        unfinished = await services.history.find_unfinished()
    except StoryreelError:
        return
    unfinished, _ = ownership.split_unfinished(unfinished, pipeline.leases.identity,
                                               ownership.now_ms())  # not those in progress
    if unfinished:
        n = len(unfinished)
        print(f"storyreel: {n} unfinished run{'s' if n > 1 else ''} from an earlier session; "
              f"`storyreel resume` finishes {'them' if n > 1 else 'it'}", file=sys.stderr)


def _exit_code(runs: list[Run]) -> int:
    if all(r.status is RunStatus.COMPLETED for r in runs):
        return EXIT_OK
    return EXIT_RUN_NOT_COMPLETE


def _run_summary(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "title": run.title,
        "status": run.status.value,
        "created_at": run.created_at.isoformat(),
        "scene_count": len(run.scenes),
        "scenes_total": len(run.scenes),  # every scene of the script, kept in the run
        "scenes_storyboarded": len({s.scene for s in run.shots}),  # scenes with shots
        # scenes left out (--scenes, or the shot cap), to storyboard later into this run:
        "scenes_not_storyboarded": [p.scene.index for p in run.held_plans],
        "shot_count": run.shot_count,
        "shots_done": run.shots_done,
        "shots_failed": run.shots_failed,
        "gpu_seconds": run.gpu_seconds,
        "queue_seconds": run.queue_seconds,
        "wall_seconds": run.wall_seconds,
        "source": run.source,
        "error": run.error,
    }


async def _run_result(services: Services, run: Run) -> dict[str, Any]:
    shots = []
    for shot in run.shots:
        path, problem = await _local_image(services, shot)
        shots.append({
            "shot_id": shot.shot_id,
            "scene": shot.scene,
            "index": shot.index,
            "number": shot.number,
            "status": shot.status.value,
            "shot_type": shot.shot_type.value,
            "camera": shot.camera,
            "description": shot.description,
            "prompt": shot.prompt,
            "seed": shot.seed,
            "attempts": shot.attempts,
            "error": shot.error,
            "job_id": shot.job_id,
            "model": shot.model,
            "image_path": str(path) if path else None,
            "image_error": problem,
            "image": shot.image.model_dump(mode="json") if shot.image else None,
            "timings": shot.timings,
            "stale": shot.stale,
            "duration_s": shot.duration_s,  # the artist's, or null: from its dialogue
            "seconds": shot_duration(shot),  # held for (as in the exports)
            "note": shot.note,
            "dialogue": shot.dialogue,
            "characters": shot.characters,
            "versions": [{"attempt": v.attempt, "seed": v.seed, "prompt": v.prompt,
                          "job_id": v.job_id, "model": v.model,
                          "image": v.image.model_dump(mode="json"),
                          "timings": v.timings} for v in shot.versions],
        })
    return {
        **_run_summary(run),
        "seed": run.seed,
        "aspect": run.aspect,
        "width": run.width,
        "height": run.height,
        "logline": run.script.logline if run.script else None,
        "scenes": [s.model_dump(mode="json") for s in run.scenes],
        "characters": ([c.model_dump(mode="json") for c in run.script.characters]
                       if run.script else []),
        "stages": {name: t.model_dump(mode="json") for name, t in run.stage_times().items()},
        "duration_s": board_duration(run.shots),  # the board's running time
        "shots": shots,
    }


def _cost_lines(run: Run) -> list[str]:
    """What the run cost on the GPU, in total and by stage (nothing when nothing ran there)."""
    stages = {k: t for k, t in run.stage_times().items() if t.jobs}
    if not stages:
        return []
    lines = [f"GPU: {run.gpu_seconds:g} s billed, {run.queue_seconds:g} s queued"]
    for name, t in stages.items():
        lines.append(f"  {name.replace('_', ' ')}: {t.jobs} jobs, {t.gpu_s:g} GPU s, "
                     f"{t.queue_s:g} s queued, {t.wall_s:g} s wall")
    return lines


async def _local_image(services: Services, shot: Shot) -> tuple[Path | None, str | None]:
    """A local file of the shot's image, or why there is none (it never stops the listing)."""
    if shot.image is None:
        return None, None
    try:
        return await services.image_path(shot.image), None
    except StorageError as exc:
        return None, str(exc)


async def _print_json(services: Services, run: Run) -> None:
    _emit_json(await _run_result(services, run))


def _emit_json(obj: dict[str, Any], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


