"""The command line: ``storyreel run | history | show | retry | resume | export | doctor``.

Results go to stdout (one JSON object per line with ``--json``), progress and
errors to stderr. Exit codes: 0 every run completed, 1 a run was partial,
failed or cancelled (or a check failed), 2 bad input or bad configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# The engine (pydantic, pymongo, aiobotocore, reportlab...) is imported only when a
# command runs (app.commands), so the window appears and --version answers at once.
COMMAND_NAMES = ("run", "history", "show", "edit", "regenerate", "pick", "retry", "resume",
                 "export", "delete", "orphans", "doctor", "shot")


ENV_FILE_HELP = ("read settings from this .env file too (after the environment, before "
                 "the data folder's .env); a .env in the working folder is read only this way")


class _Version(argparse.Action):
    """argparse's "version" action, reading the version (importlib.metadata) only when
    asked rather than whenever the parser is built (every start of the window)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from app import __version__

        print(f"storyreel {__version__} (Python {sys.version.split()[0]})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storyreel",
        description="Turn an idea into a storyboard: script, scenes, shots and images.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show program's version number and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more on stderr")
    parser.add_argument("--env-file", type=Path, metavar="PATH", help=ENV_FILE_HELP)
    parser.add_argument("--self-test", action="store_true",
                        help="open the window (offscreen without a display), run one small "
                             "draft storyboard through it, exit 0 when all of that worked")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="make a storyboard from each idea file")
    run.add_argument("ideas", nargs="*", metavar="IDEA",
                     help="idea files (.txt, .md, .fountain, or a .json batch); - reads stdin")
    run.add_argument("--text", action="append", default=[], metavar="TEXT",
                     help="an idea typed on the command line (repeatable)")
    run.add_argument("--json", action="store_true", help="one JSON object per run on stdout")
    run.add_argument("--max-shots", type=_positive, metavar="N", help="at most N shots per run")
    run.add_argument("--concurrency", type=_positive, metavar="N",
                     help="shots rendered at once (default 8)")
    run.add_argument("--seed", type=_seed, metavar="N", help="run seed, for repeatable results")
    run.add_argument("--style", metavar="NAME", help="style line carried into every shot prompt")
    run.add_argument("--budget-gpu-seconds", type=_positive_float, metavar="S",
                     help="stop submitting shots once S GPU seconds are spent (ends partial)")

    run.add_argument("--scenes", metavar="SPEC",
                     help="storyboard only these scenes of the script, such as 1-12,40 "
                          "(the others stay in the run: `resume RUN_ID --scenes` draws them)")
    run.add_argument("--estimate", action="store_true",
                     help="say what the run would cost on the GPU, and start nothing")
    run.add_argument("--aspect", default="16:9", metavar="RATIO",
                     help="the frame: 2.39:1, 1.85:1, 16:9, 4:3, 1:1 or 9:16 (default 16:9)")

    history = sub.add_parser("history", help="list past runs, newest first")
    history.add_argument("--search", metavar="TEXT",
                         help="words from the title, the idea or the shots' prompts")
    history.add_argument("--limit", type=_positive, default=20, metavar="N")
    history.add_argument("--json", action="store_true")

    show = sub.add_parser("show", help="show one run with its shots")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--json", action="store_true")

    edit = sub.add_parser("edit", help="change a character's look or a scene; the shots "
                          "that depend on it become stale")
    edit.add_argument("run_id", metavar="RUN_ID")
    edit.add_argument("--character", metavar="NAME", help="the character whose look changes")
    edit.add_argument("--look", metavar="TEXT", help="the character's new look (50-80 words)")
    edit.add_argument("--scene", type=_positive, metavar="N", help="the scene that changes")
    edit.add_argument("--heading", metavar="TEXT", help="the scene's new slug line")
    edit.add_argument("--summary", metavar="TEXT", help="the scene's new summary")
    edit.add_argument("--aspect", metavar="A", help="the board's new frame, one of 2.39:1, "
                      "1.85:1, 16:9, 4:3, 1:1, 9:16 (every drawn shot becomes stale)")
    _shot_parser(sub)

    regenerate = sub.add_parser("regenerate", help="render shots again, keeping the old "
                                "images as versions")
    regenerate.add_argument("run_id", metavar="RUN_ID")
    which = regenerate.add_mutually_exclusive_group(required=True)
    which.add_argument("--stale", action="store_true",
                       help="every shot an edit made stale (and only those)")
    which.add_argument("--shot", metavar="SHOT_ID", help="one shot, with a new seed")
    regenerate.add_argument("--seed", type=_seed, metavar="N", help="with --shot: this seed")
    regenerate.add_argument("--prompt", metavar="TEXT", help="with --shot: this prompt")
    regenerate.add_argument("--json", action="store_true")

    pick = sub.add_parser("pick", help="make an earlier version of a shot its current image")
    pick.add_argument("run_id", metavar="RUN_ID")
    pick.add_argument("shot_id", metavar="SHOT_ID")
    pick.add_argument("attempt", type=_positive, metavar="VERSION",
                      help="the attempt that made it (see show)")

    retry = sub.add_parser("retry", help="render failed shots of a run again")
    retry.add_argument("run_id", metavar="RUN_ID")
    retry.add_argument("--shot", action="append", metavar="SHOT_ID",
                       help="this shot only (repeatable); default: every failed or cancelled shot")
    retry.add_argument("--json", action="store_true")

    resume = sub.add_parser("resume", help="finish unfinished runs (all, or one)")
    resume.add_argument("run_id", nargs="?", metavar="RUN_ID")
    resume.add_argument("--scenes", metavar="SPEC",
                        help="with RUN_ID: storyboard these scenes of its script too, such as "
                             "13-20 (shots already drawn are kept as they are)")
    resume.add_argument("--json", action="store_true")

    export = sub.add_parser("export", help="write a run to a file")
    export.add_argument("run_id", metavar="RUN_ID")
    export.add_argument("--format", required=True, metavar="F",
                        help="one of: pdf, screenplay-pdf, mp4, otio, zip, fountain, fdx, json")
    export.add_argument("--out", required=True, type=Path, metavar="PATH")
    export.add_argument("--force", action="store_true", help="replace an existing file")
    export.add_argument("--page-size", default="a4", metavar="SIZE", help="pdf: a4 or letter")
    export.add_argument("--orientation", default="landscape", metavar="O",
                        help="pdf: landscape or portrait")
    export.add_argument("--columns", type=int, default=3, metavar="N",
                        help="pdf: panels per row, 1 to 6")
    export.add_argument("--seconds", type=float, default=None, metavar="S",
                        help="mp4/otio: hold every shot S seconds (default: each shot's own "
                             "duration, from its dialogue or as set)")
    export.add_argument("--captions", action="store_true",
                        help="mp4: burn the shot number and description into each panel")

    delete = sub.add_parser("delete", help="delete a run from history, with its images")
    delete.add_argument("run_id", metavar="RUN_ID")
    delete.add_argument("--keep-images", action="store_true",
                        help="delete the run from history but keep its images in storage")
    delete.add_argument("--yes", action="store_true", help="do not ask")

    orphans = sub.add_parser("orphans", help="list images in storage whose run is not in history")
    orphans.add_argument("--delete", action="store_true", help="delete them (after asking)")
    orphans.add_argument("--yes", action="store_true", help="do not ask")

    doctor = sub.add_parser("doctor", help="check every configured part")
    doctor.add_argument("--json", action="store_true")
    for command in sub.choices.values():  # --env-file also after the command's name
        command.add_argument("--env-file", type=Path, metavar="PATH", help=ENV_FILE_HELP,
                             default=argparse.SUPPRESS)
    return parser

def _shot_parser(sub: argparse._SubParsersAction) -> None:
    """``storyreel shot add|duplicate|delete|move|set``: shaping a board shot by shot."""
    shot = sub.add_parser("shot", help="add, duplicate, delete, move or change a shot of a run")
    verbs = shot.add_subparsers(dest="shot_command", metavar="ACTION", required=True)
    add = verbs.add_parser("add", help="add a shot; prints its id")
    add.add_argument("run_id", metavar="RUN_ID")
    _where(add)
    add.add_argument("--text", required=True, metavar="TEXT", help="what the shot shows")
    duplicate = verbs.add_parser("duplicate", help="copy a shot right after it (drawn with a "
                                 "seed of its own on the next regenerate); prints its id")
    duplicate.add_argument("run_id", metavar="RUN_ID")
    duplicate.add_argument("shot_id", metavar="SHOT_ID")
    delete = verbs.add_parser("delete", help="take a shot off the board")
    delete.add_argument("run_id", metavar="RUN_ID")
    delete.add_argument("shot_id", metavar="SHOT_ID")
    delete.add_argument("--yes", action="store_true",
                        help="also when it has images (they stay in storage)")
    move = verbs.add_parser("move", help="move a shot (within its scene or to another)")
    move.add_argument("run_id", metavar="RUN_ID")
    move.add_argument("shot_id", metavar="SHOT_ID")
    _where(move)
    change = verbs.add_parser("set", help="change a shot's fields")
    change.add_argument("run_id", metavar="RUN_ID")
    change.add_argument("shot_id", metavar="SHOT_ID")
    change.add_argument("--text", metavar="TEXT", help="what the shot shows")
    for verb in (add, change):
        verb.add_argument("--framing", metavar="F",
                          help="EWS, WS, MS, MCU, CU, ECU, 2S, OTS, POV or INSERT")
        verb.add_argument("--camera", metavar="C", help="camera move: static, pan, dolly...")
        verb.add_argument("--dialogue", metavar="D", help="what is said ('' for none)")
        verb.add_argument("--characters", metavar="NAMES",
                          help="who is in it, comma-separated ('' for nobody)")
        verb.add_argument("--duration", metavar="S", help="seconds it is held"
                          + (" (auto: from its dialogue)" if verb is change else ""))
        verb.add_argument("--note", metavar="N", help="a free note (not drawn)")
    for verb in (add, duplicate, delete, move, change):
        verb.add_argument("--env-file", type=Path, metavar="PATH", help=ENV_FILE_HELP,
                          default=argparse.SUPPRESS)


def _where(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--after", metavar="SHOT_ID", help="right after this shot")
    where.add_argument("--scene", type=_positive, metavar="N", help="at the start of scene N")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env_file, rest = _leading_env_file(argv)
    files = _window_files(rest)
    if files is not None:  # `storyreel idea.txt ...`: the window, with those ideas queued
        _use_env_file(env_file)
        return _window(files, self_test=False)
    args = build_parser().parse_args(argv)
    _use_env_file(args.env_file)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from app.core.urls import redact_logs

    redact_logs()  # a URL in any log line shows scheme, host and port only
    _printable_logs("%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        return _window([], self_test=args.self_test)
    from app.commands import dispatch

    return dispatch(args)


def _leading_env_file(argv: list[str]) -> tuple[Path | None, list[str]]:
    """``--env-file PATH`` at the start of ``argv`` (before idea files), and the rest."""
    if argv and argv[0] == "--env-file" and len(argv) > 1:
        return Path(argv[1]), argv[2:]
    if argv and argv[0].startswith("--env-file="):
        return Path(argv[0].partition("=")[2]), argv[1:]
    return None, argv


def _use_env_file(path: Path | None) -> None:
    """Name the file for ``settings.load_settings`` of this process (CLI and window) and
    its children, as an absolute path: ``STORYREEL_ENV_FILE`` of the environment."""
    if path is not None:  # settings.ENV_FILE_VARIABLE (not imported: pydantic is slow)
        os.environ["STORYREEL_ENV_FILE"] = str(path.expanduser().absolute())


def _printable_logs(fmt: str) -> None:
    """Log lines on the terminal without control characters (they may quote a title)."""
    from app.core.text import PrintableFormatter

    for handler in logging.getLogger().handlers:
        handler.setFormatter(PrintableFormatter(fmt))


def _window_files(argv: list[str]) -> list[str] | None:
    """The idea files of `storyreel FILE...` (a file manager's "Open with"), else None."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMAND_NAMES:
        return None
    return argv


def _window(files: list[str], *, self_test: bool) -> int:
    if not self_test and _no_display():
        print("storyreel: no display to open the window on (DISPLAY is not set); in a "
              "terminal use `storyreel run IDEA`, see `storyreel --help`", file=sys.stderr)
        return 2
    try:
        from app.ui.app import run_gui  # Qt is loaded only for the window
    except ImportError as exc:
        print(f"storyreel: the desktop window cannot start: {exc}", file=sys.stderr)
        return 2  # bad input: this installation cannot show the window
    return run_gui(files, self_test=self_test)

def _no_display() -> bool:
    """On Linux and the BSDs a window needs X11 or Wayland (or a chosen Qt platform)."""
    if sys.platform in ("darwin", "win32") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _parsed(value: str, cast: type, what: str, ok, wanted: str):
    """``value`` as ``cast``, or an argparse error that says what was expected."""
    try:
        n = cast(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
    if not ok(n):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}")
    return n


def _positive(value: str) -> int:
    return _parsed(value, int, "a whole number", lambda n: n >= 1, "a number of at least 1")


def _seed(value: str) -> int:
    return _parsed(value, int, "a whole number", lambda n: 0 <= n < 2**31,
                   "a seed between 0 and 2147483647")


def _positive_float(value: str) -> float:
    return _parsed(value, float, "a number", lambda n: 0 < n < float("inf"),
                   "a positive number")
