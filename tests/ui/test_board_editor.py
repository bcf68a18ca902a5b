"""Shaping the board in the window: drag a card to another place (also into another scene),
the shot editor beside the cards, Delete that asks only when images would be lost, and
the frame (aspect ratio) in the idea bar and in the run's header.

The window is the real one on the draft parts (``make_ui``); every check of what was
saved reads the run back from history.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core.models import Run, RunStatus
from app.ui.gallery import SHOT_MIME
from tests.ui.conftest import WAIT_MS, finish


def screenplay(n: int) -> str:
    out = ["Title: Three Doors", ""]
    for i in range(1, n + 1):
        out += [f"INT. ROOM {i} - NIGHT", "", f"MARA opens door {i} and finds a lamp.",
                "", "MARA", f"Door number {i}.", ""]
    return "\n".join(out)


def board_run(ui, qtbot, recorder, scenes: int = 3) -> Run:
    ui.window.idea.editor.setPlainText(screenplay(scenes))
    assert ui.window.idea.submit_typed()
    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.COMPLETED
    qtbot.waitUntil(lambda: not ui.session.active_runs, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: ui.window.run_view.controls.editable, timeout=WAIT_MS)
    return run


def stored(ui, qtbot, run_id: str) -> Run:
    return finish(qtbot, ui.session.services.history.get_run(run_id))


def ids(shots) -> list[str]:
    return [s.shot_id for s in shots]


def select(view, row: int) -> None:
    view.gallery.setCurrentIndex(view.model.index(row))


def settled(ui, qtbot) -> None:
    qtbot.waitUntil(lambda: not ui.window.run_view.undo.busy, timeout=WAIT_MS)


@pytest.fixture
def view(ui):
    return ui.window.run_view


def test_a_card_dropped_on_a_later_card_goes_after_it_and_history_keeps_the_order(
        ui, view, recorder, qtbot):
    run = board_run(ui, qtbot, recorder)
    before = ids(view.model.shots)
    first = view.model.shots[0]
    target = view.model.shots[1]
    assert first.scene == target.scene
    model = view.model
    assert model.flags(model.index(0)) & Qt.ItemFlag.ItemIsDragEnabled
    mime = model.mimeData([model.index(0)])  # what the view hands QDrag
    assert mime.hasFormat(SHOT_MIME)
    assert model.canDropMimeData(mime, Qt.DropAction.MoveAction, -1, -1, model.index(1))
    model.dropMimeData(mime, Qt.DropAction.MoveAction, -1, -1, model.index(1))
    expected = [before[1], before[0], *before[2:]]
    qtbot.waitUntil(lambda: ids(view.model.shots) == expected, timeout=WAIT_MS)
    settled(ui, qtbot)
    saved = stored(ui, qtbot, run.run_id)
    assert ids(saved.shots) == expected
    assert saved.shots[1].shot_id == first.shot_id and saved.shots[1].number.endswith("B")
    assert saved.shots[1].image == first.image  # its image follows it


def test_a_real_drop_on_another_scenes_card_moves_the_shot_into_that_scene_there(
        ui, view, recorder, qtbot):
    run = board_run(ui, qtbot, recorder)
    shots = view.model.shots
    last = shots[-1]
    first_of = {}
    for row, shot in enumerate(shots):
        first_of.setdefault(shot.scene, row)
    scene_two = first_of[2]
    assert last.scene != 2
    model = view.model
    mime = model.mimeData([model.index(len(shots) - 1)])
    view.tabs.setCurrentIndex(0)
    view.gallery.scrollTo(model.index(scene_two))
    centre = QPointF(view.gallery.visualRect(model.index(scene_two)).center())
    actions, left = Qt.DropAction.MoveAction, Qt.MouseButton.LeftButton
    none = Qt.KeyboardModifier.NoModifier
    port = view.gallery.viewport()
    enter = QDragEnterEvent(centre.toPoint(), actions, mime, left, none)
    QApplication.sendEvent(port, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(port, QDragMoveEvent(centre.toPoint(), actions, mime, left, none))
    QApplication.sendEvent(port, QDropEvent(centre, actions, mime, left, none))
    # Dragged backward onto scene 2's first card: it becomes that scene's first shot.
    qtbot.waitUntil(lambda: view.model.row_of(last.shot_id) == scene_two, timeout=WAIT_MS)
    settled(ui, qtbot)
    saved = stored(ui, qtbot, run.run_id)
    moved = next(s for s in saved.shots if s.shot_id == last.shot_id)
    assert (moved.scene, moved.index, moved.number) == (2, 1, "2A")
    assert "moved from scene" in (moved.stale or "")  # another place in the picture
    assert len(saved.shots) == len(shots)


def test_the_editor_applies_the_fields_as_one_step_and_shows_the_stale_mark(
        ui, view, recorder, qtbot):
    run = board_run(ui, qtbot, recorder)
    select(view, 0)
    editor = view.editor
    qtbot.waitUntil(editor.isVisible, timeout=WAIT_MS)
    shot = view.model.shots[0]
    assert editor.description.toPlainText() == shot.description
    assert not editor.apply_button.isEnabled()
    assert not editor.stale.isVisible()
    before_time = view.running_time.text()
    editor.description.setPlainText("Mara stands at the top of the tower, lamp in hand.")
    editor.framing.setCurrentIndex(editor.framing.findData("CU"))
    editor.duration.setValue(7.5)
    editor.note.setText("hold on her face")
    assert editor.apply_button.isEnabled()
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.model.shots[0].duration_s == 7.5, timeout=WAIT_MS)
    settled(ui, qtbot)
    assert editor.stale.isVisible()
    assert "description and framing changed" in editor.stale.text()
    assert not editor.apply_button.isEnabled()  # the fields are the saved ones now
    assert view.running_time.text() != before_time
    assert view.undo.undo_action.text() == f"&Undo Change shot {shot.number}"
    saved = stored(ui, qtbot, run.run_id).shots[0]
    assert (saved.description, saved.shot_type.value, saved.duration_s, saved.note) == (
        "Mara stands at the top of the tower, lamp in hand.", "CU", 7.5, "hold on her face")
    assert saved.stale

    # Only the note: the picture does not change, so nothing more goes stale.
    select(view, 1)
    qtbot.waitUntil(lambda: editor.shot.shot_id == view.model.shots[1].shot_id,
                    timeout=WAIT_MS)
    editor.note.setText("a beat longer")
    editor.apply()
    qtbot.waitUntil(lambda: view.model.shots[1].note == "a beat longer", timeout=WAIT_MS)
    assert not view.model.shots[1].stale


def test_delete_asks_only_when_images_would_be_lost(ui, view, recorder, qtbot):
    run = board_run(ui, qtbot, recorder)
    count = len(view.model.shots)
    select(view, 0)
    drawn = view.model.shots[0]
    box = view.controls.delete()
    assert isinstance(box, QMessageBox)
    assert "Its image goes with it" in box.text()
    keep = next(b for b in box.buttons()
                if box.buttonRole(b) is QMessageBox.ButtonRole.RejectRole)
    keep.click()
    assert view.model.shot(drawn.shot_id) is not None

    view.controls.add_after()  # a new shot, no image yet
    qtbot.waitUntil(lambda: len(view.model.shots) == count + 1, timeout=WAIT_MS)
    settled(ui, qtbot)
    new = view.controls.selected()
    assert new is not None and new.image is None and new.shot_id != drawn.shot_id
    assert view.controls.delete() is None  # nothing to lose: no question
    qtbot.waitUntil(lambda: view.model.shot(new.shot_id) is None, timeout=WAIT_MS)
    settled(ui, qtbot)

    select(view, 0)
    box = view.controls.delete()
    delete = next(b for b in box.buttons()
                  if box.buttonRole(b) is QMessageBox.ButtonRole.DestructiveRole)
    delete.click()
    qtbot.waitUntil(lambda: view.model.shot(drawn.shot_id) is None, timeout=WAIT_MS)
    settled(ui, qtbot)
    assert drawn.shot_id not in ids(stored(ui, qtbot, run.run_id).shots)


def test_the_keys_add_duplicate_and_delete_in_the_gallery(ui, view, recorder, qtbot):
    board_run(ui, qtbot, recorder)
    count = len(view.model.shots)
    view.tabs.setCurrentIndex(0)
    view.gallery.setFocus()
    select(view, 0)
    source = view.model.shots[0]
    qtbot.keyClick(view.gallery, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(view.model.shots) == count + 1, timeout=WAIT_MS)
    settled(ui, qtbot)
    copy = view.model.shots[1]
    assert copy.shot_id != source.shot_id and copy.description == source.description
    assert view.controls.selected().shot_id == copy.shot_id
    qtbot.keyClick(view.gallery, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(view.model.shots) == count + 2, timeout=WAIT_MS)
    settled(ui, qtbot)
    assert view.model.shots[2].image is None  # added after the selected copy
    assert ui.window.idea.editor.toPlainText() == ""  # not File > New idea
    qtbot.keyClick(view.gallery, Qt.Key.Key_Delete)  # no image: no question
    qtbot.waitUntil(lambda: len(view.model.shots) == count + 1, timeout=WAIT_MS)


def test_the_context_menu_offers_the_board_actions_and_moves_to_another_scene(
        ui, view, recorder, qtbot):
    run = board_run(ui, qtbot, recorder)
    view.tabs.setCurrentIndex(0)
    shot = view.model.shots[0]
    menu = view.controls.menu_at(view.gallery.visualRect(view.model.index(0)).center())
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["&Add shot after", "D&uplicate", "&Move to scene", "&Delete"]
    scenes = next(a.menu() for a in menu.actions() if a.menu() is not None)
    three = next(a for a in scenes.actions() if a.text() == "Scene 3")
    menu.close()
    three.trigger()
    qtbot.waitUntil(lambda: view.model.shot(shot.shot_id).scene == 3, timeout=WAIT_MS)
    settled(ui, qtbot)
    saved = stored(ui, qtbot, run.run_id)
    assert saved.shots[-1].shot_id == shot.shot_id  # the end of scene 3, the last scene


def test_the_idea_bars_frame_starts_a_9_16_run(ui, recorder, qtbot):
    idea = ui.window.idea
    assert idea.aspect.currentText() == "16:9"
    idea.aspect.setCurrentIndex(idea.aspect.findData("9:16"))
    submitted = []
    idea.ideas_submitted.connect(lambda ideas, options: submitted.append(options))
    idea.editor.setPlainText(screenplay(1))
    assert idea.submit_typed()
    assert submitted[0].aspect == "9:16"  # RunOptions(aspect=...): the pipeline draws it so
    [run] = recorder.wait_finished(qtbot)
    saved = stored(ui, qtbot, run.run_id)
    assert saved.aspect == "9:16" and saved.width < saved.height  # drawn upright
    assert ui.window.run_view.aspect_choice.currentText() == saved.aspect  # the header says
    idea.aspect.setCurrentIndex(idea.aspect.findData("16:9"))
    assert idea.options().aspect == "16:9"


def test_the_headers_frame_asks_then_makes_every_shot_stale_and_undo_goes_back(
        ui, view, recorder, qtbot):
    run = board_run(ui, qtbot, recorder)
    combo = view.aspect_choice
    assert combo.currentText() == "16:9" and combo.isEnabled()
    assert view.running_time.text().startswith("Running time ")
    combo.setCurrentIndex(combo.findData("2.39:1"))
    combo.activated.emit(combo.currentIndex())
    box = view.aspect_box
    assert "Every shot goes stale" in box.text()
    change = next(b for b in box.buttons()
                  if box.buttonRole(b) is QMessageBox.ButtonRole.AcceptRole)
    change.click()
    qtbot.waitUntil(lambda: all(s.stale for s in view.model.shots), timeout=WAIT_MS)
    settled(ui, qtbot)
    assert view.model.aspect == pytest.approx(2.39)
    assert stored(ui, qtbot, run.run_id).aspect == "2.39:1"
    view.undo.undo_action.trigger()
    qtbot.waitUntil(lambda: not any(s.stale for s in view.model.shots), timeout=WAIT_MS)
    settled(ui, qtbot)
    assert combo.currentText() == "16:9"
    assert stored(ui, qtbot, run.run_id).aspect == "16:9"


def test_a_new_shot_is_drawn_at_once_when_asked(ui, view, recorder, qtbot):
    board_run(ui, qtbot, recorder)
    select(view, 0)
    assert not view.editor.draw_button.isVisible()  # drawn already
    view.controls.add_after()
    qtbot.waitUntil(lambda: view.controls.selected() is not None
                    and view.controls.selected().image is None, timeout=WAIT_MS)
    settled(ui, qtbot)
    new = view.controls.selected()
    assert view.editor.stale.text().startswith("Stale: new shot, not drawn yet")
    assert view.editor.draw_button.isVisible()
    view.editor.draw_button.click()
    recorder.wait_finished(qtbot, count=2)
    qtbot.waitUntil(lambda: view.model.shot(new.shot_id).image is not None, timeout=WAIT_MS)
    assert not view.model.shot(new.shot_id).stale


def test_durations_are_written_the_locales_way(qapp):
    from PySide6.QtCore import QLocale

    from app.ui.gallery import duration_text

    assert (duration_text(4.5), duration_text(125)) == ("4.5 s", "2:05")
    QLocale.setDefault(QLocale("fr_FR"))
    try:
        assert (duration_text(4.5), duration_text(3725)) == ("4,5 s", "1:02:05")
    finally:
        QLocale.setDefault(QLocale.system())
