"""Dropping onto the window: idea files become queued runs; anything else is refused."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QMimeData, QUrl

from app.core.models import RunStatus, ShotStatus
from app.ui.gallery import ImageRole
from tests.conftest import SAMPLES
from tests.ui.conftest import WAIT_MS, drop, file_mime


def images_shown(model) -> list[bool]:
    return [model.data(model.index(row), ImageRole) is not None
            for row in range(model.rowCount())]


def test_a_dropped_sample_becomes_a_run_whose_cards_fill_with_images(ui, recorder, qtbot):
    ui.window.idea.shots.setValue(4)
    assert drop(ui.window, file_mime(SAMPLES / "lighthouse.txt"))

    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.COMPLETED
    assert run.source == "lighthouse.txt"
    view = ui.window.run_view
    assert view.run_id == run.run_id
    assert view.title.text() == run.title
    model = view.model
    assert [s.status for s in model.shots] == [ShotStatus.DONE] * 4
    assert [s.order for s in model.shots] == sorted(s.order for s in model.shots)
    qtbot.waitUntil(lambda: all(images_shown(model)) and model.rowCount() == 4, timeout=WAIT_MS)
    assert not view.gallery.grab().isNull()
    assert "EXT." in view.script.toPlainText() or "INT." in view.script.toPlainText()
    assert view.tabs.tabText(2).startswith("Scenes (")


def test_the_first_card_is_filled_while_the_last_shot_is_still_rendering(
        ui, renderer, recorder, qtbot):
    renderer.hold("s03-01")  # the last shot of three (one per scene) waits
    ui.window.idea.shots.setValue(3)
    drop(ui.window, file_mime(SAMPLES / "lighthouse.txt"))
    model = ui.window.run_view.model
    qtbot.waitUntil(lambda: model.rowCount() == 3 and images_shown(model)[0], timeout=WAIT_MS)
    last = model.shots[-1]
    assert last.shot_id == "s03-01"
    assert last.status is ShotStatus.RENDERING
    assert recorder.finished() == []
    assert ui.window.run_view.cancel_button.isVisible()  # the run is live
    renderer.release("s03-01")
    recorder.wait_finished(qtbot)
    qtbot.waitUntil(lambda: all(images_shown(model)), timeout=WAIT_MS)


def test_several_files_and_a_json_batch_each_become_a_queued_run(ui, recorder, qtbot, tmp_path):
    batch = tmp_path / "two.json"
    batch.write_text(json.dumps({"ideas": ["A heist at the opera.", "A picnic on Mars."]}),
                     encoding="utf-8")
    ui.window.idea.shots.setValue(1)
    drop(ui.window, file_mime(SAMPLES / "heist.md", SAMPLES / "first_contact.fountain", batch))
    runs = recorder.wait_finished(qtbot, count=4)
    assert [r.source for r in runs] == ["heist.md", "first_contact.fountain", "two.json #1",
                                        "two.json #2"]
    assert all(r.status is RunStatus.COMPLETED for r in runs)
    assert ui.session.queued == []


def junk(tmp_path):
    folder = tmp_path / "a folder"
    folder.mkdir()
    image = tmp_path / "picture.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    big = tmp_path / "huge.txt"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # 50 MB, sparse
    binary = tmp_path / "junk.txt"
    binary.write_bytes(bytes(range(256)) * 40)
    return {"folder": (folder, "is a folder"),
            "image": (image, "unsupported file type '.png'"),
            "50 MB": (big, "at most 1 MB"),
            "binary": (binary, "binary content")}


@pytest.mark.parametrize("kind", ["folder", "image", "50 MB", "binary"])
def test_a_refused_file_leaves_the_queue_unchanged_and_says_why(ui, qtbot, tmp_path, kind):
    path, reason = junk(tmp_path)[kind]
    presenter = ui.presenter
    drop(ui.window, file_mime(path))
    qtbot.waitUntil(lambda: presenter.last is not None, timeout=WAIT_MS)
    assert presenter.last.title == "Nothing was queued"
    assert reason in presenter.last.text
    assert path.name in presenter.last.text
    assert not presenter.last.bug
    assert ui.window.message_bar.current is presenter.last
    assert ui.session.queued == [] and ui.session.active_runs == []
    assert ui.window.run_view.run is None


def test_one_bad_file_in_a_drop_refuses_the_whole_drop(ui, qtbot, tmp_path):
    path, _ = junk(tmp_path)["image"]
    drop(ui.window, file_mime(SAMPLES / "lighthouse.txt", path))
    qtbot.waitUntil(lambda: ui.presenter.last is not None, timeout=WAIT_MS)
    assert "picture.png" in ui.presenter.last.text
    assert ui.session.queued == [] and ui.session.active_runs == []


def test_a_web_address_is_refused_without_reading_anything(ui, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/idea.txt")])
    drop(ui.window, mime)
    assert ui.presenter.last is not None  # at once: nothing to read
    assert "web address" in ui.presenter.last.text
    text = QMimeData()
    text.setText("https://example.com/idea.txt")
    drop(ui.window, text)
    assert "web address" in ui.presenter.messages[-1].text
    assert ui.session.queued == [] and ui.session.active_runs == []


def test_dropped_plain_text_goes_into_the_editor_not_the_queue(ui, qtbot):
    mime = QMimeData()
    mime.setText("A diver finds a door at the bottom of the sea.")
    drop(ui.window, mime)
    assert ui.window.idea.editor.toPlainText() == "A diver finds a door at the bottom of the sea."
    assert ui.session.queued == [] and ui.presenter.messages == []


def test_files_given_on_the_command_line_are_queued_like_drops(make_ui, qtbot, tmp_path):
    ui = make_ui(show=False)
    finished = []
    ui.bridge.run_finished.connect(finished.append)
    ui.window.idea.shots.setValue(1)
    ui.window.queue_paths([str(SAMPLES / "heist.md"), str(tmp_path / "missing.txt")])
    qtbot.waitUntil(lambda: ui.presenter.last is not None, timeout=WAIT_MS)
    assert "missing.txt: no such file" in ui.presenter.last.text  # one bad: nothing queued
    ui.window.queue_paths([str(SAMPLES / "heist.md")])
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=WAIT_MS)
    assert finished[0].source == "heist.md" and finished[0].status is RunStatus.COMPLETED


def test_a_file_opened_with_the_app_on_macos_is_queued_like_a_drop(make_ui, qtbot,
                                                                   monkeypatch):
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    from app.ui import app

    monkeypatch.setattr(app, "FILE_OPEN_EVENTS", True)  # as on macOS
    ui = make_ui(show=False)
    finished = []
    ui.bridge.run_finished.connect(finished.append)
    ui.window.idea.shots.setValue(1)
    QApplication.sendEvent(QApplication.instance(), QFileOpenEvent(str(SAMPLES / "heist.md")))
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=WAIT_MS)
    assert finished[0].source == "heist.md" and finished[0].status is RunStatus.COMPLETED
