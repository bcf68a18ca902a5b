"""Exporting the run on show from the window: every format opens back, progress is shown,
a file is replaced only when the person agrees, and problems are said with their reason."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import zipfile
from pathlib import Path

import imageio_ffmpeg
import opentimelineio as otio
import pytest
from pypdf import PdfReader
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.core import ideas
from app.core.export.pdf import PAGE_POINTS, layout_for
from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus
from app.core.writers.outline import outline
from app.ui.export_dialog import ExportDialog, target_path
from tests.ui.conftest import WAIT_MS, finish

IDEA = "A lighthouse keeper sees a light at sea where no ship should be."
SHOTS = 3


def show_finished_run(ui, qtbot, idea: str = IDEA):
    """A finished run (draft writer and renderer), opened from history into the run view."""
    run = finish(qtbot, ui.session.pipeline.start(
        from_text(idea), RunOptions(max_shots=SHOTS, width=256, height=144)))
    assert run.status is RunStatus.COMPLETED
    ui.window.open_run(run.run_id)
    qtbot.waitUntil(lambda: ui.window.run_view.run_id == run.run_id, timeout=WAIT_MS)
    qtbot.waitUntil(ui.window.export_action.isEnabled, timeout=WAIT_MS)
    assert ui.window.export_button.isEnabled()
    return run


@pytest.fixture
def run(ui, qtbot):
    return show_finished_run(ui, qtbot)


def open_dialog(ui, fmt: str, path) -> ExportDialog:
    dialog = ui.window.export_shown_run()
    assert dialog is not None and dialog.isVisible()
    dialog.set_format(fmt)
    dialog.path.setText(str(path))
    return dialog


def export(ui, qtbot, fmt: str, path, **setup) -> tuple[Path, list[float]]:
    """Export the run on show as ``fmt`` to ``path`` through the dialog; the path written
    and the progress fractions the dialog showed."""
    dialog = open_dialog(ui, fmt, path)
    for name, value in setup.items():
        widget = getattr(dialog, name)
        if hasattr(widget, "findData") and isinstance(value, str):
            widget.setCurrentIndex(widget.findData(value))
        elif hasattr(widget, "setChecked"):
            widget.setChecked(value)
        else:
            widget.setValue(value)
    fractions: list[float] = []
    dialog.progressed.connect(fractions.append)
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS) as written:
        dialog.export_button.click()
    return written.args[0], fractions


def probe(path) -> str:
    """What the bundled ffmpeg says about a file (imageio-ffmpeg has no ffprobe)."""
    return subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True).stderr


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class UrlSpy(QObject):
    """Takes the place of the file manager for file:// URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url)


def test_export_is_in_the_file_menu_with_ctrl_e_and_beside_the_tabs(ui, qtbot):
    window = ui.window
    file_menu = window.menuBar().actions()[0].menu()
    assert window.export_action in file_menu.actions()
    assert window.export_action.shortcut() == QKeySequence("Ctrl+E")
    assert window.run_view.tabs.cornerWidget() is window.export_button
    assert not window.export_action.isEnabled()  # nothing on show yet
    assert not window.export_button.isEnabled()
    assert window.export_shown_run() is None
    assert "Open a finished run" in window.statusBar().currentMessage()


def test_a_pdf_storyboard_in_the_chosen_paper_orientation_and_columns(ui, run, qtbot, tmp_path):
    written, fractions = export(ui, qtbot, "pdf", tmp_path / "board", paper="letter",
                                orientation="portrait", columns=2)
    assert written == tmp_path / "board.pdf"  # the format's suffix is added
    reader = PdfReader(written)
    layout = layout_for("letter", "portrait", 2, run.width / run.height)
    assert len(reader.pages) == 1 + math.ceil(SHOTS / layout.per_page)
    w, h = PAGE_POINTS["letter"]
    assert {(round(float(p.mediabox.width)), round(float(p.mediabox.height)))
            for p in reader.pages} == {(round(w), round(h))}
    assert run.title in reader.pages[0].extract_text()
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert files_in(tmp_path) == ["board.pdf"]  # no temporary file left beside it


def test_the_screenplay_as_fountain(ui, run, qtbot, tmp_path):
    written, _ = export(ui, qtbot, "fountain", tmp_path / "script.fountain")
    assert written.read_text(encoding="utf-8") == run.script.screenplay


def test_a_zip_of_the_images_in_story_order_with_the_document(ui, run, qtbot, tmp_path):
    written, _ = export(ui, qtbot, "zip", tmp_path / "images.zip")
    with zipfile.ZipFile(written) as archive:
        assert archive.testzip() is None
        images = [f"{n:03d}_{s.number}.png" for n, s in enumerate(run.shots, 1)]
        assert archive.namelist() == [*images, "storyboard.json", "screenplay.fountain"]
        document = json.loads(archive.read("storyboard.json"))
    assert document["run_id"] == run.run_id


def test_an_mp4_animatic_holds_each_shot_with_progress_while_encoding(ui, run, qtbot, tmp_path):
    written, fractions = export(ui, qtbot, "mp4", tmp_path / "animatic.mp4", seconds=1.5,
                                captions=True)
    info = probe(written)
    assert "Duration: 00:00:04.50" in info, info  # three shots of 1.5 s
    assert "Video: h264" in info
    assert any(0 < f < 1 for f in fractions)  # drawing and encoding, not only start and end
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_an_otio_timeline_has_one_clip_per_shot(ui, run, qtbot, tmp_path):
    written, _ = export(ui, qtbot, "otio", tmp_path / "cut.otio", seconds=3.0)
    timeline = otio.adapters.read_from_file(str(written))
    clips = list(timeline.find_clips())
    assert len(clips) == SHOTS
    assert timeline.duration().to_seconds() == 3.0 * SHOTS


def test_success_offers_to_show_the_folder(ui, run, qtbot, tmp_path):
    written, _ = export(ui, qtbot, "fountain", tmp_path / "out" / "script.fountain")
    message = ui.presenter.last
    assert message.title == "Exported “script.fountain”" and str(written.parent) in message.text
    [show] = message.actions
    assert show.label == "Show in folder"
    spy = UrlSpy()
    QDesktopServices.setUrlHandler("file", spy, "open")
    try:
        show.run()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in spy.opened] == [str(written.parent)]
    assert ui.window.export_folder == written.parent  # the next export starts there
    qtbot.waitUntil(lambda: ui.window.exports == [], timeout=WAIT_MS)  # the dialog closed


def test_an_existing_file_is_replaced_only_after_asking(ui, run, qtbot, tmp_path):
    target = tmp_path / "board.pdf"
    target.write_bytes(b"my own notes")
    dialog = open_dialog(ui, "pdf", target)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.confirm is not None and dialog.confirm.isVisible(),
                    timeout=WAIT_MS)
    assert "board.pdf already exists" in dialog.confirm.text()
    dialog.confirm.button(QMessageBox.StandardButton.No).click()
    assert dialog.confirm is None and not dialog.busy
    assert target.read_bytes() == b"my own notes"
    assert files_in(tmp_path) == ["board.pdf"]
    assert "Nothing was written" in dialog.note.text()

    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.confirm is not None and dialog.confirm.isVisible(),
                    timeout=WAIT_MS)
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS):
        dialog.confirm.button(QMessageBox.StandardButton.Yes).click()
    assert target.read_bytes().startswith(b"%PDF")
    assert len(PdfReader(target).pages) >= 2


def read_only_folder(path):
    """``path`` made and made read-only; None where that does not stop this process
    (root, or a platform without such permissions)."""
    path.mkdir()
    path.chmod(0o555)
    try:
        (path / "probe").touch()
    except PermissionError:
        return path
    (path / "probe").unlink()
    path.chmod(0o755)
    return None


def test_a_read_only_folder_is_a_clear_error_and_leaves_nothing(ui, run, qtbot, tmp_path):
    folder = read_only_folder(tmp_path / "read-only")
    if folder is None:
        pytest.skip("permissions do not stop this process from writing (root?)")
    try:
        dialog = open_dialog(ui, "pdf", folder / "board.pdf")
        dialog.export_button.click()
        qtbot.waitUntil(lambda: ui.presenter.last is not None
                        and ui.presenter.last.title == "Export failed", timeout=WAIT_MS)
        assert "cannot write in" in ui.presenter.last.text
        assert files_in(folder) == []
    finally:
        folder.chmod(0o755)
    assert not ui.presenter.last.bug
    assert dialog.isVisible() and not dialog.busy  # pick another place and try again
    assert ui.presenter.last.text in dialog.note.text()


def test_a_folder_that_cannot_be_made_is_a_clear_error_and_leaves_nothing(ui, run, qtbot,
                                                                           tmp_path):
    blocker = tmp_path / "notes.txt"  # a file where the export wants a folder
    blocker.write_text("keep", encoding="utf-8")
    dialog = open_dialog(ui, "mp4", blocker / "films" / "animatic.mp4")
    dialog.export_button.click()
    qtbot.waitUntil(lambda: ui.presenter.last is not None
                    and ui.presenter.last.title == "Export failed", timeout=WAIT_MS)
    message = ui.presenter.last
    assert "cannot create the folder" in message.text and not message.bug
    assert files_in(tmp_path) == ["notes.txt"] and blocker.read_text(encoding="utf-8") == "keep"
    assert dialog.isVisible() and not dialog.busy and message.text in dialog.note.text()


def test_a_run_with_no_images_says_so_and_can_still_give_its_screenplay(ui, renderer, qtbot,
                                                                       tmp_path):
    renderer.hold_all()  # no shot will be rendered: the run is cancelled while they wait
    started = asyncio.ensure_future(ui.session.pipeline.start(from_text(IDEA),
                                                              RunOptions(max_shots=2)))
    qtbot.waitUntil(lambda: len(renderer.started) >= 1, timeout=WAIT_MS)
    run_id = ui.window.run_view.run_id
    ui.session.cancel(run_id)
    qtbot.waitUntil(started.done, timeout=WAIT_MS)
    assert started.result().status is RunStatus.CANCELLED
    qtbot.waitUntil(ui.window.export_action.isEnabled, timeout=WAIT_MS)

    dialog = open_dialog(ui, "pdf", tmp_path / "board.pdf")
    assert "no images" in dialog.note.text()  # said before trying
    dialog.export_button.click()
    qtbot.waitUntil(lambda: ui.presenter.last is not None
                    and ui.presenter.last.title == "Export failed", timeout=WAIT_MS)
    assert "has no rendered images" in ui.presenter.last.text
    assert files_in(tmp_path) == []

    dialog.set_format("fountain")
    assert dialog.path.text().endswith("board.fountain")  # the suffix follows the format
    assert not dialog.note.isVisible()
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS):
        dialog.export_button.click()
    assert files_in(tmp_path) == ["board.fountain"]


def test_cancelling_an_export_leaves_nothing(ui, run, qtbot, tmp_path):
    dialog = open_dialog(ui, "mp4", tmp_path / "animatic.mp4")

    def cancel_midway(fraction: float) -> None:
        if 0 < fraction < 1 and dialog.busy:
            dialog.close_button.click()  # "Cancel export" while it runs

    dialog.progressed.connect(cancel_midway)
    dialog.export_button.click()
    assert dialog.close_button.text() == "Cancel export"
    qtbot.waitUntil(lambda: not dialog.busy and "cancelled" in dialog.state.text(),
                    timeout=WAIT_MS)
    assert files_in(tmp_path) == []  # neither the file nor its temporary part
    assert dialog.isVisible() and dialog.close_button.text() == "Close"
    assert not any(m.title == "Export failed" for m in ui.presenter.messages)


def test_a_running_run_cannot_be_exported_until_it_finishes(ui, renderer, qtbot):
    renderer.hold_all()
    ui.window.idea.editor.setPlainText(IDEA)
    ui.window.idea.shots.setValue(1)
    ui.window.idea.generate.click()
    qtbot.waitUntil(lambda: len(ui.session.active_runs) == 1, timeout=WAIT_MS)
    assert not ui.window.export_action.isEnabled()
    assert ui.window.export_shown_run() is None
    assert "still working" in ui.window.statusBar().currentMessage()
    renderer.release_all()
    qtbot.waitUntil(ui.window.export_action.isEnabled, timeout=WAIT_MS)


# The offscreen platform cannot raise a window, and says so: the dialog is raised on others.
@pytest.mark.qt_log_ignore(r"propagateSizeHints", r"does not support raise\(\)")
def test_ctrl_e_opens_one_dialog_per_run_with_a_name_from_its_title(ui, run, qtbot, tmp_path):
    ui.window.activateWindow()
    qtbot.waitUntil(ui.window.isActiveWindow, timeout=WAIT_MS)
    qtbot.keyClick(ui.window.run_view.gallery, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(ui.window.exports) == 1, timeout=WAIT_MS)
    [first] = ui.window.exports
    assert first.isVisible() and first.run.run_id == run.run_id
    assert ui.window.export_shown_run() is first  # raised again, not a second one
    assert first.path.text().endswith(".pdf")
    name = os.path.basename(first.path.text())
    assert name[:-4] and name[:-4] in run.title.lower().replace(" ", "-")
    first.set_format("mp4")
    assert first.path.text().endswith(name[:-4] + ".mp4")
    assert target_path("cut", "otio", tmp_path) == tmp_path / "cut.otio"
    assert target_path("  ", "otio", tmp_path) is None
    first.close()


def test_the_file_is_chosen_in_a_save_dialog_that_proposes_the_name(ui, run, qtbot, tmp_path):
    dialog = open_dialog(ui, "otio", tmp_path / "cut.otio")
    chooser = dialog.choose_path()
    assert chooser.isVisible()
    assert chooser.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    assert [Path(f) for f in chooser.selectedFiles()] == [tmp_path / "cut.otio"]
    chooser.selectFile(str(tmp_path / "edit" / "final.otio"))
    chooser.accept()
    assert dialog.path.text() == str(tmp_path / "edit" / "final.otio")


def test_quitting_during_an_export_asks_first_and_says_it_will_be_cancelled(ui, run, qtbot,
                                                                            tmp_path):
    asked: list[bool] = []
    ui.window.close_requested.connect(lambda: asked.append(True))
    dialog = open_dialog(ui, "mp4", tmp_path / "animatic.mp4")
    dialog.export_button.click()
    assert dialog.busy

    box = ui.window.request_close()  # no run is working: only the export holds the quit
    assert box is not None and "export" in box.text().lower() and "cancels" in box.text()
    assert sorted(b.text() for b in box.buttons()) == ["Cancel export and quit",
                                                       "Keep working"]
    next(b for b in box.buttons() if b.text() == "Keep working").click()
    assert asked == []
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS):
        pass  # the export goes on to its end
    assert files_in(tmp_path) == ["animatic.mp4"]
    assert ui.window.request_close() is None and asked == [True]  # nothing left to ask


def test_quitting_cancels_a_running_export_and_leaves_nothing(ui, run, qtbot, tmp_path):
    asked: list[bool] = []
    ui.window.close_requested.connect(lambda: asked.append(True))
    dialog = open_dialog(ui, "mp4", tmp_path / "animatic.mp4")
    dialog.export_button.click()
    box = ui.window.request_close()
    next(b for b in box.buttons() if b.text() == "Cancel export and quit").click()
    assert asked == [True]
    finish(qtbot, ui.aclose())  # what main() does next
    assert files_in(tmp_path) == []


def test_the_screenplay_as_final_draft(ui, run, qtbot, tmp_path):
    dialog = open_dialog(ui, "fdx", tmp_path / "script")
    assert not dialog.form.isRowVisible(dialog.rows["paper"])  # nothing to choose for fdx
    dialog.set_format("screenplay-pdf")
    assert dialog.form.isRowVisible(dialog.rows["paper"])
    assert not dialog.form.isRowVisible(dialog.rows["columns"])
    dialog.set_format("fdx")
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS) as done:
        dialog.export_button.click()
    written = done.args[0]
    assert written == tmp_path / "script.fdx"
    [idea] = ideas.read(written)
    assert [s.heading for s in outline(idea).scenes] == [s.heading for s in run.scenes]


def test_the_screenplay_as_a_formatted_pdf(ui, run, qtbot, tmp_path):
    written, _ = export(ui, qtbot, "screenplay-pdf", tmp_path / "script", paper="letter")
    assert written == tmp_path / "script.pdf"
    reader = PdfReader(written)
    assert float(reader.pages[0].mediabox.height) == 792
    assert reader.pages[0].extract_text().splitlines()[0] == run.title
