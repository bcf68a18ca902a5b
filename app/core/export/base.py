"""What every export shares: options, errors, the panels of a run in story order,
progress reporting, and writing the result atomically.

A format module gets an ``ExportJob`` and writes one file at ``job.temp``; the
registry (``app.core.export``) renames it onto the target only when the whole
file is written, and removes it otherwise, so no partial file is ever left
where the user asked for the export.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app.core import frame
from app.core.errors import StoryreelError
from app.core.files import pid_alive
from app.core.models import Run, Shot
from app.core.text import printable
from app.core.timing import shot_duration

log = logging.getLogger(__name__)

PAGE_SIZES = ("a4", "letter")
ORIENTATIONS = ("landscape", "portrait")
MAX_COLUMNS = 6

Progress = Callable[[float, str], None]
T = TypeVar("T")


class ExportError(StoryreelError):
    """An export could not be written. The message is one line, for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))  # one line, whatever came in


class UnknownFormat(ExportError):
    def __init__(self, fmt: str, known: list[str]) -> None:
        super().__init__(f"unknown export format {fmt!r}; this build exports: {', '.join(known)}")
        self.format = fmt


class BadExportOptions(ExportError):
    """An option is out of range (columns, page size, durations, ...)."""


class NothingToExport(ExportError):
    """The run lacks what the format needs: a script, or any image."""


class ExportTargetError(ExportError):
    """The output path cannot be written: a folder, an existing file, no permission."""


class ExportToolMissing(ExportError):
    """A library or program the format needs is not installed."""


class EncodeError(ExportError):
    """An external encoder (ffmpeg) failed."""


@dataclass(frozen=True)
class ExportOptions:
    """How to export. Every field has a default; each format reads the ones it uses."""

    overwrite: bool = False  # replace an existing file at the target (``--force``)
    # pdf
    page_size: str = "a4"  # "a4" | "letter"
    orientation: str = "landscape"  # "landscape" | "portrait"
    columns: int = 3  # panels per row, 1 to 6
    font: Path | None = None  # a TTF to embed instead of the bundled one (wider coverage)
    # mp4 and otio
    # How long every shot is held; None: each shot's own duration (``timing.shot_duration``:
    # the artist's, or from its dialogue). ``shot_seconds`` overrides either, per shot_id.
    seconds_per_shot: float | None = None
    shot_seconds: Mapping[str, float] = field(default_factory=dict)  # per shot_id
    captions: bool = False  # mp4: burn shot number and text into each panel
    # mp4: the frame's long side (its width for a landscape board, its height for a portrait
    # one); the other side follows the run's aspect ratio
    video_width: int = 1280
    fps: int = 24

    def __post_init__(self) -> None:
        object.__setattr__(self, "page_size", str(self.page_size).lower())
        object.__setattr__(self, "orientation", str(self.orientation).lower())
        if self.page_size not in PAGE_SIZES:
            raise BadExportOptions(f"page size {self.page_size!r} is not one of: "
                                   f"{', '.join(PAGE_SIZES)}")
        if self.orientation not in ORIENTATIONS:
            raise BadExportOptions(f"orientation {self.orientation!r} is not one of: "
                                   f"{', '.join(ORIENTATIONS)}")
        if not 1 <= self.columns <= MAX_COLUMNS:
            raise BadExportOptions(f"columns must be 1 to {MAX_COLUMNS}, not {self.columns}")
        every = [] if self.seconds_per_shot is None else [("seconds per shot",
                                                           self.seconds_per_shot)]
        for name, secs in [*every,
                           *((f"seconds of shot {k}", v) for k, v in self.shot_seconds.items())]:
            if not (isinstance(secs, int | float) and math.isfinite(secs) and 0.1 <= secs <= 600):
                raise BadExportOptions(f"{name} must be 0.1 to 600, not {secs!r}")
        if not 64 <= self.video_width <= 7680:
            raise BadExportOptions(f"video width must be 64 to 7680, not {self.video_width}")
        if not 1 <= self.fps <= 120:
            raise BadExportOptions(f"fps must be 1 to 120, not {self.fps}")

    def seconds_for(self, shot: Shot) -> float:
        """How long ``shot`` is held: its override, else every shot's, else its own."""
        if shot.shot_id in self.shot_seconds:
            return float(self.shot_seconds[shot.shot_id])
        if self.seconds_per_shot is not None:
            return float(self.seconds_per_shot)
        return shot_duration(shot)

    def frames_for(self, shot: Shot) -> int:
        """The hold of a shot in whole frames (at least one), so timelines add up exactly."""
        return max(1, round(self.seconds_for(shot) * self.fps))


@dataclass(frozen=True, slots=True)
class Panel:
    """A shot in story order with its scene heading and its image as a local file."""

    position: int  # 1-based, over every shot of the run
    shot: Shot
    heading: str
    image: Path | None  # None: not rendered, or not available locally

    @property
    def speaker(self) -> str:
        return self.shot.characters[0] if self.shot.characters else ""


class Stopped(Exception):
    """Raised in a worker thread to end it early: its export was cancelled."""


@dataclass
class ExportJob:
    run: Run
    panels: list[Panel]
    options: ExportOptions
    target: Path  # where the file ends up
    temp: Path  # where the format writes it
    report: Reporter
    stop: threading.Event = field(default_factory=threading.Event)  # set on cancellation
    scratch: Path | None = None  # a private folder for work files (frames); None: system temp

    def check_stop(self) -> None:
        """Called by long loops in worker threads between steps."""
        if self.stop.is_set():
            raise Stopped

    @property
    def title(self) -> str:
        """The run's title, on one line without control characters (it is untrusted)."""
        title = self.run.title or (self.run.script.title if self.run.script else "")
        return printable(title, one_line=True) or f"Run {self.run.run_id}"

    @property
    def with_images(self) -> list[Panel]:
        return [p for p in self.panels if p.image is not None]

    @property
    def aspect(self) -> float:
        """Width over height of the board's frame (``Run.aspect``; its size for a label we
        do not know)."""
        try:
            return frame.ratio(self.run.aspect)
        except frame.AspectError:
            return self.run.width / self.run.height if self.run.height else 16 / 9

    @property
    def running_time(self) -> float:
        """Seconds of the whole board as this export holds its shots."""
        return round(sum(self.options.seconds_for(p.shot) for p in self.panels), 3)


class Reporter:
    """Progress from any thread, delivered on the event loop's thread, never going back.

    A failing callback is logged and ignored: progress must not break an export.
    """

    def __init__(self, progress: Progress | None, loop: asyncio.AbstractEventLoop) -> None:
        self._progress = progress
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, fraction: float, message: str) -> None:
        if self._progress is None:
            return
        with self._lock:
            fraction = min(1.0, max(self._last, float(fraction)))
            self._last = fraction
        if threading.get_ident() == self._loop_thread:
            self._deliver(fraction, message)
        else:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
                self._loop.call_soon_threadsafe(self._deliver, fraction, message)

    def part(self, start: float, end: float) -> Callable[[float, str], None]:
        """A reporter for one phase that maps its own 0..1 onto ``start..end``."""
        return lambda f, message: self(start + (end - start) * min(1.0, max(0.0, f)), message)

    def _deliver(self, fraction: float, message: str) -> None:
        try:
            self._progress(fraction, message)  # type: ignore[misc]
        except Exception:
            log.exception("export progress callback failed")


async def in_thread(job: ExportJob | None, fn: Callable[..., T], /, *args: Any,
                    **kwargs: Any) -> T:
    """``asyncio.to_thread`` that, when cancelled, tells the thread to stop (``job.stop``)
    and waits for it to end before the cancellation goes on: so no thread is still
    writing a file when the caller removes it."""
    future = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if job is not None:
            job.stop.set()
        with contextlib.suppress(BaseException):  # its outcome no longer matters
            await future
        raise


def story_order(shots: list[Shot]) -> list[Shot]:
    return sorted(shots, key=lambda s: s.order)


def slug(text: str, fallback: str = "storyboard") -> str:
    """A file-name-safe, lower-case form: ``Mara and the Lamp`` -> ``mara-and-the-lamp``."""
    words = re.findall(r"[^\W_]+", text.casefold())
    return "-".join(words)[:60].strip("-") or fallback


def file_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", text) or "x"


# Targets and temporary files (blocking: call through asyncio.to_thread).


def check_target(out: Path, suffix: str, overwrite: bool) -> Path:
    """The file to write for ``out``: ``suffix`` added when ``out`` has none; refused when
    it is a folder, exists (without ``overwrite``), or its folder cannot be made."""
    out = Path(out).expanduser()
    if out.is_dir():
        raise ExportTargetError(f"{out} is a folder; give a file name such as "
                                f"{out / ('storyboard' + suffix)}")
    if not out.suffix:
        out = out.with_name(out.name + suffix)
        if out.is_dir():
            raise ExportTargetError(f"{out} is a folder; give a file name")
    if out.exists() and not overwrite:
        raise ExportTargetError(f"{out} already exists; choose another name or overwrite it "
                                "(--force)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportTargetError(f"cannot create the folder {out.parent}: "
                                f"{exc.strerror or exc}") from None
    return out.absolute()


def reserve_temp(target: Path) -> Path:
    """An empty temporary file beside ``target`` (same file system, so the rename is atomic),
    named with our process id; those of the same target that a killed export left (their
    process is gone) are removed first."""
    _sweep_parts(target)
    temp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        with open(temp, "xb"):
            pass
    except OSError as exc:
        raise ExportTargetError(f"cannot write in {target.parent}: "
                                f"{exc.strerror or exc}") from None
    return temp


def _sweep_parts(target: Path) -> None:
    prefix = f".{target.name}."
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(".part")):
                continue
            pid = name[len(prefix):-len(".part")].partition("-")[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                discard(entry)


def publish(temp: Path, target: Path, overwrite: bool) -> None:
    if not overwrite and target.exists():
        raise ExportTargetError(f"{target} appeared while exporting; not replacing it")
    try:
        os.replace(temp, target)
    except OSError as exc:
        raise ExportTargetError(f"cannot write {target}: {exc.strerror or exc}") from None


def discard(temp: Path) -> None:
    with contextlib.suppress(OSError):
        temp.unlink()
