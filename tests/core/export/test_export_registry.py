"""export_run as a whole: formats, bad input, bad targets, nothing partial, progress."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
import tempfile
import threading

import pytest

from app.core.export import (
    FORMATS,
    BadExportOptions,
    ExportOptions,
    ExportTargetError,
    ExportToolMissing,
    NothingToExport,
    UnknownFormat,
    export_run,
    suggested_filename,
)
from app.core.models import Run, Script
from tests.core.export.boards import leftovers


def test_the_registry_lists_every_format_with_its_suffix():
    assert list(FORMATS) == ["pdf", "fountain", "zip", "mp4", "otio", "json", "fdx",
                             "screenplay-pdf"]
    assert {f.suffix for f in FORMATS.values()} == {".pdf", ".fountain", ".zip", ".mp4",
                                                     ".otio", ".json", ".fdx"}
    assert all(f.description for f in FORMATS.values())


def test_a_file_name_is_suggested_from_the_title():
    run = Run(idea="x", title="Mara’s Lamp: Part 2!")
    assert suggested_filename(run, "PDF") == "mara-s-lamp-part-2.pdf"
    assert suggested_filename(Run(run_id="r-1", idea="x"), "otio") == "r-1.otio"
    with pytest.raises(UnknownFormat):
        suggested_filename(run, "docx")


async def test_an_unknown_format_names_the_known_ones(board, tmp_path):
    with pytest.raises(UnknownFormat) as caught:
        await export_run(board.run, "docx", tmp_path / "x.docx", image_path=board.image_path)
    message = str(caught.value)
    assert message.startswith("unknown export format 'docx'")
    assert all(name in message for name in FORMATS) and "\n" not in message
    assert not (tmp_path / "x.docx").exists()


async def test_format_names_ignore_case_and_a_missing_suffix_is_added(board, tmp_path):
    written = await export_run(board.run, " JSON ", tmp_path / "board",
                               image_path=board.image_path)
    assert written == tmp_path / "board.json" and written.is_file()


async def test_a_folder_as_target_is_refused(board, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    with pytest.raises(ExportTargetError, match="is a folder"):
        await export_run(board.run, "fountain", folder, image_path=board.image_path)
    assert leftovers(folder) == []


async def test_a_target_whose_folder_cannot_be_made_is_refused(board, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportTargetError, match="cannot create the folder"):
        await export_run(board.run, "pdf", blocker / "board.pdf", image_path=board.image_path)
    assert blocker.read_text() == "not a folder"


async def test_an_existing_file_is_kept_unless_overwrite_is_asked(board, tmp_path):
    target = tmp_path / "board.fountain"
    target.write_text("mine")
    with pytest.raises(ExportTargetError, match="already exists"):
        await export_run(board.run, "fountain", target, image_path=board.image_path)
    assert target.read_text() == "mine"

    await export_run(board.run, "fountain", target, image_path=board.image_path,
                     options=ExportOptions(overwrite=True))
    assert target.read_text() == board.run.script.screenplay
    assert leftovers(tmp_path) == ["blobs", "board.fountain"]


async def test_a_run_without_a_script_or_images_has_nothing_to_export(tmp_path):
    empty = Run(idea="A lighthouse in a storm.", title="Storm")
    no_images = Run(idea="x", title="Storm", script=Script(title="Storm", logline="l",
                                                            screenplay="EXT. SEA - DAY\n"))

    async def nowhere(image):
        return None

    with pytest.raises(NothingToExport, match="no script"):
        await export_run(empty, "fountain", tmp_path / "a.fountain", image_path=nowhere)
    for fmt in ("pdf", "zip", "mp4", "otio"):
        with pytest.raises(NothingToExport, match="no rendered images"):
            await export_run(no_images, fmt, tmp_path / f"a.{fmt}", image_path=nowhere)
    # the record of a failed run can still be exported as data
    assert (await export_run(empty, "json", tmp_path / "a.json", image_path=nowhere)).is_file()
    assert leftovers(tmp_path) == ["a.json"]


async def test_images_that_are_not_on_disk_count_as_missing(board, tmp_path):
    async def gone(image):
        return tmp_path / "deleted" / image.key

    with pytest.raises(NothingToExport, match="none of the 14 images"):
        await export_run(board.run, "zip", tmp_path / "a.zip", image_path=gone)
    assert not (tmp_path / "a.zip").exists()


async def test_a_failing_export_leaves_no_file_behind(board, tmp_path, monkeypatch):
    async def half_then_fail(job):
        job.temp.write_bytes(b"%PDF-1.4 half a file")
        raise OSError("disk full")

    monkeypatch.setitem(FORMATS, "pdf", dataclasses.replace(FORMATS["pdf"], write=half_then_fail))
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        await export_run(board.run, "pdf", out / "board.pdf", image_path=board.image_path)
    assert leftovers(out) == []


async def test_a_cancelled_export_leaves_no_file_behind(board, tmp_path, monkeypatch):
    started = asyncio.Event()

    async def half_then_wait(job):
        job.temp.write_bytes(b"PK half a zip")
        started.set()
        await asyncio.Event().wait()

    monkeypatch.setitem(FORMATS, "zip", dataclasses.replace(FORMATS["zip"], write=half_then_wait))
    out = tmp_path / "out"
    task = asyncio.create_task(export_run(board.run, "zip", out / "board.zip",
                                          image_path=board.image_path))
    await started.wait()
    assert len(leftovers(out)) == 1  # the temporary file, hidden and named .part
    assert leftovers(out)[0].startswith(".board.zip.") and leftovers(out)[0].endswith(".part")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(out) == []


@pytest.mark.parametrize("fmt", list(FORMATS))
async def test_progress_rises_to_one_on_the_event_loop_thread(small_board, tmp_path, fmt):
    seen: list[tuple[float, str, int]] = []
    written = await export_run(
        small_board.run, fmt, tmp_path / "out" / "board", image_path=small_board.image_path,
        progress=lambda f, m: seen.append((f, m, threading.get_ident())),
        options=ExportOptions(video_width=128))
    fractions = [f for f, _, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert seen[-1][1] == f"wrote {written}"
    assert {t for _, _, t in seen} == {threading.get_ident()}


async def test_a_failing_progress_callback_does_not_break_the_export(small_board, tmp_path):
    def broken(fraction, message):
        raise RuntimeError("a broken progress bar")

    written = await export_run(small_board.run, "zip", tmp_path / "b.zip",
                               image_path=small_board.image_path, progress=broken)
    assert written.is_file()


@pytest.mark.parametrize(("options", "words"), [
    (dict(columns=0), "columns must be 1 to 6"),
    (dict(columns=7), "columns must be 1 to 6"),
    (dict(page_size="a3"), "page size 'a3'"),
    (dict(orientation="sideways"), "orientation"),
    (dict(seconds_per_shot=0), "seconds per shot"),
    (dict(shot_seconds={"s01-01": float("nan")}), "seconds of shot s01-01"),
    (dict(video_width=10), "video width"),
    (dict(fps=0), "fps"),
])
def test_options_out_of_range_are_refused_with_the_reason(options, words):
    with pytest.raises(BadExportOptions, match=words):
        ExportOptions(**options)


def test_options_accept_any_case_for_page_size_and_orientation():
    options = ExportOptions(page_size="Letter", orientation="PORTRAIT")
    assert (options.page_size, options.orientation) == ("letter", "portrait")


@pytest.mark.parametrize(("fmt", "module", "advice"), [
    ("pdf", "reportlab", "pip install 'reportlab"),
    ("mp4", "imageio_ffmpeg", "pip install 'imageio-ffmpeg"),
    ("otio", "opentimelineio", "pip install 'opentimelineio"),
])
async def test_a_missing_library_fails_only_its_format_and_says_what_to_install(
        small_board, tmp_path, monkeypatch, fmt, module, advice):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(ExportToolMissing, match=re.escape(advice)):
        await export_run(small_board.run, fmt, tmp_path / "out" / f"b.{fmt}",
                         image_path=small_board.image_path)
    assert leftovers(tmp_path / "out") == []
    assert (await export_run(small_board.run, "zip", tmp_path / "b.zip",
                             image_path=small_board.image_path)).is_file()


@pytest.mark.parametrize(("fmt", "when"), [
    ("pdf", "page 1/"), ("mp4", "drew frame 1/"), ("mp4", "encoding"), ("zip", "added 001_"),
])
async def test_cancelling_a_real_export_midway_leaves_nothing(small_board, tmp_path,
                                                              monkeypatch, fmt, when):
    scratch = tmp_path / "scratch"  # where the animatic draws its frames
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out"
    tasks: list[asyncio.Task] = []
    cancelled_at: list[str] = []

    def progress(fraction, message):
        # delivered on the loop before the export task resumes: a deterministic point
        if message.startswith(when) and not cancelled_at:
            cancelled_at.append(message)
            tasks[0].cancel()

    tasks.append(asyncio.create_task(export_run(
        small_board.run, fmt, out / "board", image_path=small_board.image_path,
        progress=progress, options=ExportOptions(seconds_per_shot=120))))  # a long encode
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    assert cancelled_at
    assert leftovers(out) == []
    assert leftovers(scratch) == []
