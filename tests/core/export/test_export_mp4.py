"""The MP4 animatic, read back with the bundled ffmpeg: duration, size, codec, and
which panel is on screen at every frame."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat

from app.core.export import EncodeError, ExportOptions, export_run
from app.core.export.animatic import (
    CAPTION,
    _encode,
    _popen,
    canvas_size,
    compose_frame,
    encoder_threads,
    ffconcat,
    ffmpeg_command,
    progress_seconds,
)
from app.core.export.base import Panel
from app.core.renderers.panel import wrap
from tests.core.export.boards import make_board

WIDTH = 128  # frames of 128x72: quick to encode and to decode


def probe(path) -> str:
    """What ffmpeg says about a file (there is no ffprobe in imageio-ffmpeg)."""
    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                            capture_output=True, text=True)
    return result.stderr


def decoded_frames(path) -> tuple[dict, list[Image.Image]]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = [Image.frombytes("RGB", meta["size"], raw) for raw in reader]
    return meta, frames


def difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


async def test_each_shot_is_held_for_its_duration_and_the_last_one_too(small_board, tmp_path):
    run = small_board.run
    middle = run.shots[1].shot_id
    options = ExportOptions(video_width=WIDTH, shot_seconds={middle: 1.0})
    written = await export_run(run, "mp4", tmp_path / "animatic.mp4",
                               image_path=small_board.image_path, options=options)

    info = probe(written)
    assert "Duration: 00:00:05.00" in info
    assert re.search(r"Video: h264 .*yuv420p.*, 128x72", info), info
    frames_counted, _ = imageio_ffmpeg.count_frames_and_secs(str(written))
    assert frames_counted == 5 * 24

    meta, frames = decoded_frames(written)
    assert tuple(meta["size"]) == (128, 72) and meta["fps"] == 24
    # the frame of every shot, drawn as the export draws it, is on screen for its frames
    size = canvas_size(run.width / run.height, WIDTH)
    expected = [compose_frame(Panel(n, s, "", small_board.file_of(s.shot_id)), size, False)
                for n, s in enumerate(run.shots, 1)]
    shown = [min(range(3), key=lambda k, f=frame: difference(f, expected[k])) for frame in frames]
    assert shown == [0] * 48 + [1] * 24 + [2] * 48
    assert max(difference(f, expected[k]) for f, k in zip(frames, shown, strict=True)) < 8


async def test_captions_are_burned_into_the_frames(small_board, tmp_path):
    plain = await export_run(small_board.run, "mp4", tmp_path / "plain.mp4",
                             image_path=small_board.image_path,
                             options=ExportOptions(video_width=256))
    captioned = await export_run(small_board.run, "mp4", tmp_path / "captioned.mp4",
                                 image_path=small_board.image_path,
                                 options=ExportOptions(video_width=256, captions=True))
    _, without = decoded_frames(plain)
    _, with_captions = decoded_frames(captioned)
    assert len(without) == len(with_captions) == 3 * 48
    bottom = (0, 130, 256, 144)  # the caption band
    band = with_captions[10].crop(bottom).convert("L")
    assert ImageStat.Stat(band).mean[0] < 80  # a dark band ...
    assert band.getextrema()[1] > 200  # ... with white writing
    assert difference(without[10].crop(bottom), with_captions[10].crop(bottom)) > 20


async def test_a_shot_without_an_image_still_gets_its_time(tmp_path):
    board = await make_board(tmp_path, max_shots=3)
    board.run.shots[0].image = None
    written = await export_run(board.run, "mp4", tmp_path / "a.mp4",
                               image_path=board.image_path,
                               options=ExportOptions(video_width=WIDTH))
    assert "Duration: 00:00:06.00" in probe(written)


async def test_encoding_reports_progress(small_board, tmp_path):
    messages: list[tuple[float, str]] = []
    await export_run(small_board.run, "mp4", tmp_path / "a.mp4",
                     image_path=small_board.image_path,
                     options=ExportOptions(video_width=WIDTH),
                     progress=lambda f, m: messages.append((f, m)))
    drawn = [m for _, m in messages if m.startswith("drew frame")]
    assert drawn == ["drew frame 1/3", "drew frame 2/3", "drew frame 3/3"]
    encoding = [(f, m) for f, m in messages if m.startswith("encod")]
    assert re.fullmatch(r"encoding \d\.\d/6\.0 s", encoding[0][1])
    assert encoding[-1][1] == "encoded 6.0 s"
    assert 0.25 <= encoding[0][0] <= encoding[-1][0] <= 0.99 < messages[-1][0] == 1.0


def test_frames_have_one_even_size_whatever_the_aspect():
    assert canvas_size(16 / 9, 1280) == (1280, 720)
    assert canvas_size(2.39, 1279) == (1278, 534)
    assert canvas_size(9 / 16, 405) == (404, 718)
    for aspect in (1.85, 2.39, 4 / 3, 9 / 16, 1.0):
        for width in (64, 101, 333, 1920):
            w, h = canvas_size(aspect, width)
            assert w % 2 == 0 and h % 2 == 0 and w > 0 and h > 0


def test_the_concat_list_repeats_the_last_file():
    text = ffconcat([("a.png", 48), ("b.png", 24), ("it's.png", 12)], 24)
    assert text.splitlines() == [
        "ffconcat version 1.0",
        "file 'a.png'", "duration 2.000000",
        "file 'b.png'", "duration 1.000000",
        "file 'it'\\''s.png'", "duration 0.500000",
        "file 'it'\\''s.png'",
    ]


def test_progress_lines_are_read_in_seconds():
    assert progress_seconds("out_time_us=2500000\n") == 2.5
    assert progress_seconds("out_time_ms=1000000") == 1.0  # microseconds despite its name
    assert progress_seconds("out_time_us=N/A") is None
    assert progress_seconds("frame=12") is None
    assert progress_seconds("progress=end") is None


def test_a_missing_image_becomes_a_card_and_captions_take_their_own_band(small_board):
    shot = small_board.run.shots[0]
    card = compose_frame(Panel(1, shot, "", None), (320, 180), captions=True)
    assert card.size == (320, 180)
    assert card.getpixel((160, 179)) == CAPTION
    picture = compose_frame(Panel(1, shot, "", small_board.file_of(shot.shot_id)), (320, 180),
                            captions=True)
    # the picture shrank above the band rather than being covered by it
    assert picture.getpixel((2, 60)) == (12, 12, 14) and picture.getpixel((160, 179)) == CAPTION


async def test_a_failing_encoder_is_an_encode_error_with_its_last_words(tmp_path):
    command = [sys.executable, "-c",
               "import sys; sys.stderr.write('first\\nInvalid data found\\n'); sys.exit(3)"]
    with pytest.raises(EncodeError, match=r"ffmpeg failed \(exit 3\): Invalid data found"):
        await _encode(command, 1.0, tmp_path / "log", lambda f, m: None)


async def test_cancelling_stops_the_encoder(tmp_path):
    pid_file = tmp_path / "pid"
    command = [sys.executable, "-c",
               f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
               "print('out_time_us=500000', flush=True); time.sleep(60)"]
    started = asyncio.Event()
    task = asyncio.create_task(_encode(command, 1.0, tmp_path / "log",
                                       lambda f, m: started.set()))
    async with asyncio.timeout(20):
        while not started.is_set():  # noqa: ASYNC110 - set from the encoder's thread
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped
        import os
        os.kill(pid, 0)


def test_a_caption_that_fits_its_lines_is_not_marked_as_cut():
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    font = ImageFont.load_default(size=12)
    width = int(max(draw.textlength(t, font=font) for t in ("one two three", "four five six")))
    assert wrap(draw, "one two three four five six", font, width + 1, 2) == [
        "one two three", "four five six"]
    cut = wrap(draw, "one two three four five six seven", font, width + 1, 2)
    assert len(cut) == 2 and cut[1].endswith("…")


def test_the_encoder_leaves_a_core_to_the_app():
    assert [encoder_threads(n) for n in (None, 0, 1, 2, 8)] == [
        max(1, (os.cpu_count() or 1) - 1), 1, 1, 1, 7]
    command = ffmpeg_command("ffmpeg", Path("in.ffconcat"), Path("out.mp4"), seconds=2.0,
                             fps=24, title="t", comment="c", threads=3)
    assert command[command.index("-threads") + 1] == "3"
    assert command[command.index("-filter_threads") + 1] == "3"
    assert command.index("-threads") < command.index(str(Path("out.mp4")))  # an output option


@pytest.mark.skipif(sys.platform == "win32", reason="niceness is POSIX")
async def test_the_encoder_runs_at_a_lower_priority_than_the_app():
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    if mine >= 19:
        pytest.skip("this process is as nice as can be already")
    # The parent lowers the child's priority just after starting it: the child waits for it.
    command = [sys.executable, "-c",
               "import os, time\n"
               "deadline = time.monotonic() + 20\n"
               f"while os.getpriority(os.PRIO_PROCESS, 0) == {mine} "
               "and time.monotonic() < deadline:\n"
               "    time.sleep(0.01)\n"
               "print(os.getpriority(os.PRIO_PROCESS, 0), flush=True)\n"]
    proc = await asyncio.to_thread(_popen, command, subprocess.DEVNULL)
    out, _ = await asyncio.to_thread(proc.communicate)
    assert int(out) == min(19, mine + 10)


async def test_control_characters_in_the_title_and_captions_do_not_stop_the_export(small_board,
                                                                                  tmp_path):
    small_board.run.title = "Nul\x00 and \x1b[31mred\x1b[0m\nlight"
    small_board.run.shots[0].description = "a bell\x00 rings \x07"
    written = await export_run(small_board.run, "mp4", tmp_path / "a.mp4",
                               image_path=small_board.image_path,
                               options=ExportOptions(video_width=WIDTH, captions=True))
    info = probe(written)
    assert re.search(r"title\s*: Nul and \[31mred\[0m light\n", info), info


def test_ffmpeg_metadata_never_carries_control_characters():
    command = ffmpeg_command("ffmpeg", Path("in"), Path("out.mp4"), seconds=1.0, fps=24,
                             title="a\x00b\x1bc\nd", comment="e\x9bf")
    assert "title=abc d" in command and "comment=ef" in command


async def test_frames_are_drawn_in_the_scratch_folder_and_none_are_left(small_board, tmp_path):
    scratch = tmp_path / "home" / "tmp"
    seen: list[list[str]] = []

    def progress(_f, message):
        if message.startswith("encoding"):
            seen.append(sorted(p.name for p in scratch.glob("export-*/*.png")))

    await export_run(small_board.run, "mp4", tmp_path / "a.mp4", image_path=small_board.image_path,
                     options=ExportOptions(video_width=WIDTH), progress=progress, scratch=scratch)
    assert seen and seen[0] == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    assert list(scratch.iterdir()) == []
    assert (scratch.stat().st_mode & 0o777) == 0o700


def test_the_frames_of_dead_exports_are_swept_and_live_ones_kept(tmp_path):
    from app.core.files import sweep_scratch

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"export-{dead.pid}-x").mkdir()
    (tmp_path / f"export-{dead.pid}-x" / "frame_00001.png").write_bytes(b"frame")
    (tmp_path / f"export-{os.getpid()}-y").mkdir()
    (tmp_path / "something-else").mkdir()
    assert sweep_scratch(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"export-{os.getpid()}-y",
                                                          "something-else"]


def _gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting for its new parent to reap it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in status


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_encoder_dies_with_the_app_even_on_sigkill(tmp_path):
    # A stand-in for the app: it starts a long "encoder" the way the export does, then waits.
    app = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time\n"
         "from app.core.export.animatic import _popen\n"
         "child = _popen([sys.executable, '-c', 'import time; time.sleep(120)'], "
         "subprocess.DEVNULL)\n"
         "print(child.pid, flush=True)\n"
         "time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[3])
    try:
        encoder = int(app.stdout.readline())
        assert not _gone(encoder)
        app.kill()
        app.wait()
        for _ in range(500):  # the kernel kills it at once; give a loaded machine time
            if _gone(encoder):
                break
            time.sleep(0.02)
        assert _gone(encoder), "the encoder outlived the app"
    finally:
        app.kill()
        app.wait()
