"""An MP4 animatic: every shot held for its duration, H.264, through the ffmpeg
that imageio-ffmpeg ships (no system ffmpeg needed).

Every shot is held for its own duration (``app.core.timing``: the artist's, or
from its dialogue) unless the export options say otherwise, in whole frames.
Every panel is first drawn with Pillow onto one fixed canvas of even size (the
board's aspect ratio, ``video_width`` on its long side), with its caption burned
in when asked:
odd sizes cannot fail and all frames match. The frames are then played by the
ffconcat demuxer, each with its ``duration``, the last file listed twice and
the output cut at the total with ``-t`` (without both, the last shot's length
is wrong), and encoded libx264 yuv420p with ``+faststart``. Progress comes from
ffmpeg's ``-progress`` output.

The encoder is a good neighbour: it leaves one core free (``-threads``) and runs at a
lower priority, so that the window it is started from stays responsive while it works.
It never outlives us: a cancel (Ctrl-C, SIGTERM, the window's Cancel) kills it and
removes the frames; on Linux a SIGKILL of the app kills it too (``PR_SET_PDEATHSIG``,
set in the child). The frames are drawn in a private folder inside the data folder
(``job.scratch``), so those a killed export leaves are swept at the next export or start.
Titles and captions are stripped of control characters (a NUL cannot reach ffmpeg).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from app.core.export.base import EncodeError, ExportJob, ExportToolMissing, Panel, in_thread
from app.core.files import private_dir, sweep_scratch
from app.core.renderers.panel import wrap
from app.core.text import printable

BACKGROUND = (12, 12, 14)
PAPER = (246, 244, 238)
INK = (38, 38, 42)
CAPTION = (28, 28, 32)
TAG = (196, 72, 48)
PREPARE_SHARE = 0.25  # of the progress bar: drawing frames; the rest is encoding
NICENESS = 10  # added to ffmpeg's on POSIX: the desktop comes first


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ExportToolMissing(
            "mp4 export needs ffmpeg: pip install 'imageio-ffmpeg>=0.5'") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # no binary for this platform, or IMAGEIO_FFMPEG_EXE is bad
        raise ExportToolMissing(f"mp4 export cannot find ffmpeg: {exc}") from None


def canvas_size(aspect: float, width: int) -> tuple[int, int]:
    """An even frame size of ``aspect`` (width / height) about ``width`` wide."""
    w = max(2, width - width % 2)
    return w, max(2, 2 * round(w / aspect / 2))


def video_size(aspect: float, long_side: int) -> tuple[int, int]:
    """An even frame size of ``aspect`` whose long side is about ``long_side``: a 16:9 board
    at 1280 is 1280 x 720, a 9:16 one 720 x 1280."""
    if aspect >= 1:
        return canvas_size(aspect, long_side)
    return canvas_size(aspect, round(long_side * aspect))


def caption_text(panel: Panel) -> str:
    shot = panel.shot
    if shot.dialogue:
        who = f"{panel.speaker}: " if panel.speaker else ""
        return printable(f"{who}“{shot.dialogue}”", one_line=True)
    return printable(shot.description, one_line=True)


def compose_frame(panel: Panel, size: tuple[int, int], captions: bool) -> Image.Image:
    """The frame of one shot: its image fitted to ``size`` (or a card saying it is
    missing). With ``captions``, a band under the picture carries the shot number,
    type and text; the picture shrinks to make room rather than being covered."""
    w, h = size
    frame = Image.new("RGB", size, BACKGROUND)
    band = _caption_band(panel, w, h) if captions else None
    room = (w, h - band.height) if band else size
    if panel.image is not None:
        with Image.open(panel.image) as source:
            picture = source.convert("RGB")
        scale = min(room[0] / picture.width, room[1] / picture.height)
        fitted = picture.resize((max(1, round(picture.width * scale)),
                                 max(1, round(picture.height * scale))), Image.Resampling.LANCZOS)
        frame.paste(fitted, ((room[0] - fitted.width) // 2, (room[1] - fitted.height) // 2))
    else:
        _missing_card(frame, panel, room)
    if band:
        frame.paste(band, (0, h - band.height))
    return frame


def _lettering(w: int, h: int) -> int:
    """What text is sized by: the height of a 16:9 frame as wide (a portrait frame's text
    fits its width), or the frame's own when it is wider still."""
    return min(h, round(w * 9 / 16))


def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)  # Pillow's own FreeType font


def _missing_card(frame: Image.Image, panel: Panel, room: tuple[int, int]) -> None:
    draw = ImageDraw.Draw(frame)
    w, h = room
    draw.rectangle([0, 0, w, h], fill=PAPER)
    size = max(10, _lettering(w, h) // 12)
    text = printable(f"{panel.shot.number} {panel.shot.shot_type.value}: no image", one_line=True)
    font = _font(size)
    draw.text(((w - draw.textlength(text, font=font)) / 2, h / 2 - size), text, fill=INK,
              font=font)


def _caption_band(panel: Panel, w: int, h: int) -> Image.Image:
    """Two lines at most: a tag with the shot number and type, then the dialogue or the
    description."""
    size = max(10, _lettering(w, h) // 26)
    font = _font(size)
    pad, line_h = size // 2, int(size * 1.3)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    tag = f" {printable(panel.shot.number, one_line=True)}  {panel.shot.shot_type.value} "
    tag_w = int(measure.textlength(tag, font=font))
    lines = wrap(measure, caption_text(panel), font, w - 3 * pad - tag_w, 2) or [""]
    band = Image.new("RGB", (w, 2 * pad + 2 * line_h), CAPTION)
    draw = ImageDraw.Draw(band)
    draw.rectangle([pad, pad, pad + tag_w, pad + line_h], fill=TAG)
    draw.text((pad, pad + (line_h - size) // 2), tag, fill=(255, 255, 255), font=font)
    for n, line in enumerate(lines):
        draw.text((2 * pad + tag_w, pad + n * line_h + (line_h - size) // 2), line,
                  fill=(255, 255, 255), font=font)
    return band


def ffconcat(entries: list[tuple[str, int]], fps: int) -> str:
    """The concat list: each file with its duration (frames at ``fps``), the last file
    repeated, since the demuxer ignores the last entry's duration."""
    lines = ["ffconcat version 1.0"]
    for name, frames in entries:
        lines += [f"file '{_quote(name)}'", f"duration {frames / fps:.6f}"]
    if entries:
        lines.append(f"file '{_quote(entries[-1][0])}'")
    return "\n".join(lines) + "\n"


def _quote(name: str) -> str:
    return name.replace("'", "'\\''")


def encoder_threads(cpus: int | None = None) -> int:
    """How many threads ffmpeg may use: every core but one, so the app keeps one."""
    cpus = os.cpu_count() if cpus is None else cpus
    return max(1, (cpus or 1) - 1)


def ffmpeg_command(exe: str, concat: Path, out: Path, *, seconds: float, fps: int,
                   title: str, comment: str, threads: int | None = None) -> list[str]:
    threads = encoder_threads() if threads is None else threads
    return [
        exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(concat),
        "-t", f"{seconds:.6f}",
        "-vf", f"scale=trunc(iw/2)*2:trunc(ih/2)*2,fps={fps},format=yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", "20",
        "-threads", str(threads), "-filter_threads", str(threads),
        "-an", "-movflags", "+faststart",
        "-metadata", f"title={printable(title, one_line=True)}",
        "-metadata", f"comment={printable(comment, one_line=True)}",
        "-progress", "pipe:1", "-nostats", "-f", "mp4", str(out),
    ]


def progress_seconds(line: str) -> float | None:
    """Seconds encoded so far from one ``-progress`` line, or None for other lines."""
    key, _, value = line.strip().partition("=")
    if key in ("out_time_us", "out_time_ms"):  # both are microseconds (a historic misnomer)
        with contextlib.suppress(ValueError):
            return max(0.0, int(value) / 1_000_000)
    return None


async def write_mp4(job: ExportJob) -> None:
    exe = ffmpeg_exe()
    fps = job.options.fps
    if job.scratch is not None:  # private, and rid of what killed exports left
        await in_thread(None, _prepare_scratch, job.scratch)
    with tempfile.TemporaryDirectory(prefix=f"export-{os.getpid()}-", dir=job.scratch,
                                     ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        entries = await in_thread(job, _prepare_frames, job, folder,
                                  job.report.part(0.0, PREPARE_SHARE))
        concat = folder / "frames.ffconcat"
        await in_thread(job, concat.write_text, ffconcat(entries, fps), encoding="utf-8")
        seconds = sum(frames for _, frames in entries) / fps
        command = ffmpeg_command(exe, concat, job.temp, seconds=seconds, fps=fps,
                                 title=job.title, comment=f"storyreel run {job.run.run_id}, "
                                                          f"{job.run.aspect}")
        await _encode(command, seconds, folder / "ffmpeg.log",
                      job.report.part(PREPARE_SHARE, 0.99))


def _prepare_scratch(folder: Path) -> None:
    private_dir(folder)
    sweep_scratch(folder)


def _prepare_frames(job: ExportJob, folder: Path, report) -> list[tuple[str, int]]:
    size = video_size(job.aspect, job.options.video_width)
    entries = []
    for n, panel in enumerate(job.panels, 1):
        job.check_stop()
        name = f"frame_{n:05d}.png"
        compose_frame(panel, size, job.options.captions).save(folder / name, compress_level=1)
        entries.append((name, job.options.frames_for(panel.shot)))
        report(n / len(job.panels), f"drew frame {n}/{len(job.panels)}")
    return entries


async def _encode(command: list[str], seconds: float, log_path: Path, report) -> None:
    log = await in_thread(None, open, log_path, "wb")  # ffmpeg's stderr, for the error
    encoder = _Encoder(command, log, seconds, report)
    try:
        running = asyncio.ensure_future(asyncio.to_thread(encoder.run))
        try:
            code = await asyncio.shield(running)
        except asyncio.CancelledError:  # stop the encoder; its thread then sees the end
            encoder.kill()
            with contextlib.suppress(BaseException):
                await running
            raise
    finally:
        log.close()
    if code != 0:
        text = await in_thread(None, log_path.read_text, "utf-8", "replace")
        lines = text.strip().splitlines()
        raise EncodeError(f"ffmpeg failed (exit {code}): {lines[-1] if lines else 'no output'}")


class _Encoder:
    """ffmpeg started and followed by one worker thread, which lives exactly as long as
    ffmpeg does: ``PR_SET_PDEATHSIG`` fires when the thread that started the child ends,
    so the starting thread must not be a pool thread that could end first."""

    def __init__(self, command: list[str], log, seconds: float, report) -> None:
        self.command, self.log, self.seconds, self.report = command, log, seconds, report
        self._proc: subprocess.Popen | None = None
        self._killed = False
        self._lock = threading.Lock()

    def run(self) -> int:
        try:
            proc = _popen(self.command, self.log)
        except OSError as exc:
            raise ExportToolMissing(f"cannot start ffmpeg ({self.command[0]}): "
                                    f"{exc.strerror or exc}") from None
        with self._lock:
            self._proc = proc
            if self._killed:  # cancelled while it was starting
                proc.kill()
        return _follow(proc, self.seconds, self.report)

    def kill(self) -> None:
        with self._lock:
            self._killed = True
            if self._proc is not None:
                with contextlib.suppress(OSError):
                    self._proc.kill()


def _popen(command: list[str], log) -> subprocess.Popen:
    """Start the encoder at a lower priority than the app: below-normal on Windows, and
    ``NICENESS`` more on POSIX, set by the parent once the child exists. On Linux the
    child asks the kernel to SIGKILL it when we die (see ``die_with_parent``)."""
    flags = 0
    if sys.platform == "win32":
        flags = subprocess.CREATE_NO_WINDOW | subprocess.BELOW_NORMAL_PRIORITY_CLASS
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=log, creationflags=flags, preexec_fn=die_with_parent())
    if sys.platform != "win32":
        lower_priority(proc.pid)
    return proc


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when the thread that started it
    (and so this process) ends, kill -9 included: Linux ``prctl(PR_SET_PDEATHSIG)``.
    None elsewhere (macOS and Windows have no such call; there a cancel still kills the
    encoder, but a SIGKILL of the app does not).

    A ``preexec_fn`` runs between fork and exec, where only async-signal-safe calls are
    sound in a process with threads (Qt's): this one makes one system call through a
    function pointer and arguments resolved here, in the parent, and reads getppid."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    args = (ctypes.c_int(1), ctypes.c_ulong(signal.SIGKILL),  # PR_SET_PDEATHSIG
            ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    parent = os.getpid()

    def preexec() -> None:
        prctl(*args)
        if os.getppid() != parent:  # we died before the call above: go at once
            os._exit(1)

    return preexec


def lower_priority(pid: int, by: int = NICENESS) -> None:
    """Add ``by`` to the niceness of process ``pid`` (POSIX); never fails the export."""
    with contextlib.suppress(OSError):  # gone already, or not allowed: run as it is
        current = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, min(19, current + by))


def _follow(proc: subprocess.Popen, seconds: float, report) -> int:
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode("ascii", "replace").strip()
        done = progress_seconds(line)
        if done is not None and seconds > 0:
            report(done / seconds, f"encoding {min(done, seconds):.1f}/{seconds:.1f} s")
        elif line == "progress=end":
            report(1.0, f"encoded {seconds:.1f} s")
    return proc.wait()
