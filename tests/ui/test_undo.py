"""Undo and redo of board edits in the window: add, delete, move and set fields, each step
saved at once (history holds the board after every step), the Edit menu naming the
step, and a step that cannot be saved leaving the stack as it was."""

from __future__ import annotations

import pytest

from app.core.models import Run, RunStatus
from tests.ui.conftest import WAIT_MS, finish

IDEA = ("Title: Two Doors\n\nINT. HALL - NIGHT\n\nMARA opens the first door.\n\nMARA\nHello?\n\n"
        "INT. STAIRS - NIGHT\n\nMARA climbs. A lamp flickers.\n\nMARA\nWho is there?\n")


@pytest.fixture
def view(ui):
    return ui.window.run_view


def board_run(ui, qtbot, recorder) -> Run:
    ui.window.idea.editor.setPlainText(IDEA)
    assert ui.window.idea.submit_typed()
    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.COMPLETED
    qtbot.waitUntil(lambda: ui.window.run_view.controls.editable, timeout=WAIT_MS)
    return run


def stored_ids(ui, qtbot, run_id: str) -> list[str]:
    return [s.shot_id for s in finish(qtbot, ui.session.services.history.get_run(run_id)).shots]


def ids(view) -> list[str]:
    return [s.shot_id for s in view.model.shots]


def step(ui, view, qtbot, act) -> None:
    """Do ``act`` and wait until its step is saved and shown."""
    assert act() is not False
    qtbot.waitUntil(lambda: not view.undo.busy, timeout=WAIT_MS)


def test_undo_and_redo_of_add_delete_move_and_set_with_history_after_each_step(
        ui, view, recorder, qtbot):
    run = board_run(ui, qtbot, recorder)
    undo, redo = view.undo.undo_action, view.undo.redo_action
    assert not undo.isEnabled() and not redo.isEnabled()
    assert "while the window is open" in undo.toolTip()  # undo does not survive a restart
    edit_menu = next(a.menu() for a in ui.window.menuBar().actions() if a.text() == "&Edit")
    assert undo in edit_menu.actions() and redo in edit_menu.actions()
    assert undo.shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [k.toString() for k in redo.shortcuts()]
    board = ids(view)
    assert stored_ids(ui, qtbot, run.run_id) == board

    # Add after the first shot.
    view.gallery.setCurrentIndex(view.model.index(0))
    step(ui, view, qtbot, view.controls.add_after)
    added = ids(view)[1]
    assert ids(view) == [board[0], added, *board[1:]]
    assert stored_ids(ui, qtbot, run.run_id) == ids(view)
    assert undo.text() == "&Undo Add shot" and undo.isEnabled()

    step(ui, view, qtbot, view.undo.undo)
    assert ids(view) == board == stored_ids(ui, qtbot, run.run_id)
    assert redo.text() == "&Redo Add shot"
    step(ui, view, qtbot, view.undo.redo)
    assert ids(view) == [board[0], added, *board[1:]]  # the same shot, the same id
    assert stored_ids(ui, qtbot, run.run_id) == ids(view)

    # Set a field of the added shot; undo it, then undo the add under it, then redo both.
    view.controls.set_fields(added, {"description": "A gull on the railing."})
    qtbot.waitUntil(lambda: not view.undo.busy, timeout=WAIT_MS)
    assert view.model.shot(added).description == "A gull on the railing."
    step(ui, view, qtbot, view.undo.undo)
    assert view.model.shot(added).description != "A gull on the railing."
    step(ui, view, qtbot, view.undo.undo)
    assert stored_ids(ui, qtbot, run.run_id) == board
    step(ui, view, qtbot, view.undo.redo)
    step(ui, view, qtbot, view.undo.redo)
    saved = finish(qtbot, ui.session.services.history.get_run(run.run_id))
    assert next(s for s in saved.shots if s.shot_id == added).description == \
        "A gull on the railing."

    # Delete a drawn shot; undo puts it back whole, where it was.
    now = ids(view)
    drawn = view.model.shots[0]
    assert drawn.image is not None
    view.gallery.setCurrentIndex(view.model.index(0))
    step(ui, view, qtbot, lambda: view.controls._delete(drawn))
    assert drawn.shot_id not in ids(view)
    assert stored_ids(ui, qtbot, run.run_id) == now[1:]
    assert undo.text() == f"&Undo Delete shot {drawn.number}"
    step(ui, view, qtbot, view.undo.undo)
    assert ids(view) == now == stored_ids(ui, qtbot, run.run_id)
    back = view.model.shot(drawn.shot_id)
    assert back.image == drawn.image and back.number == drawn.number

    # Move the last shot to the start of the board; undo moves it back.
    last = now[-1]
    view.controls.move(last, {"scene": 1})
    qtbot.waitUntil(lambda: not view.undo.busy, timeout=WAIT_MS)
    assert ids(view)[0] == last == stored_ids(ui, qtbot, run.run_id)[0]
    step(ui, view, qtbot, view.undo.undo)
    assert ids(view) == now == stored_ids(ui, qtbot, run.run_id)
    step(ui, view, qtbot, view.undo.redo)
    assert stored_ids(ui, qtbot, run.run_id)[0] == last


def test_an_undo_refused_while_the_run_renders_says_why_and_keeps_the_stack(
        ui, view, renderer, recorder, qtbot):
    run = board_run(ui, qtbot, recorder)
    shot = view.model.shots[0]
    view.controls.set_fields(shot.shot_id, {"description": "The lamp goes out."})
    qtbot.waitUntil(lambda: not view.undo.busy and view.stale_count(), timeout=WAIT_MS)
    stack = view.undo.group.activeStack()
    assert stack.index() == 1
    renderer.hold_all()
    view.regenerate_stale_action.trigger()
    qtbot.waitUntil(lambda: ui.session.is_active(run.run_id), timeout=WAIT_MS)
    assert not view.controls.editable  # no new edits while it renders
    view.undo.undo()
    qtbot.waitUntil(lambda: not view.undo.busy, timeout=WAIT_MS)
    refused = [m for m in ui.presenter.messages if m.title.startswith("Undo: Change shot")]
    assert refused and "not saved" in refused[-1].title
    assert stack.index() == 1 and stack.count() == 1  # still undoable once it has finished
    renderer.release_all()
    recorder.wait_finished(qtbot, count=2)
    qtbot.waitUntil(lambda: view.controls.editable, timeout=WAIT_MS)
    step(ui, view, qtbot, view.undo.undo)
    assert stack.index() == 0
    saved = finish(qtbot, ui.session.services.history.get_run(run.run_id))
    assert saved.shots[0].description == shot.description


def test_each_run_has_its_own_undo_history(ui, view, recorder, qtbot):
    first = board_run(ui, qtbot, recorder)
    view.gallery.setCurrentIndex(view.model.index(0))
    step(ui, view, qtbot, view.controls.add_after)
    assert view.undo.undo_action.isEnabled()
    ui.window.idea.editor.setPlainText(IDEA)
    ui.window.idea.submit_typed()
    recorder.wait_finished(qtbot, count=2)
    qtbot.waitUntil(lambda: view.run_id != first.run_id and view.controls.editable,
                    timeout=WAIT_MS)
    assert not view.undo.undo_action.isEnabled()  # the new run has nothing to undo
    ui.window.open_run(first.run_id)
    qtbot.waitUntil(lambda: view.run_id == first.run_id, timeout=WAIT_MS)
    assert view.undo.undo_action.text() == "&Undo Add shot"


def test_an_undo_of_a_shot_deleted_elsewhere_says_why_and_starts_the_history_afresh(
        ui, view, recorder, qtbot):
    run = board_run(ui, qtbot, recorder)
    shot = view.model.shots[0]
    view.controls.set_fields(shot.shot_id, {"note": "keep the gull"})
    qtbot.waitUntil(lambda: not view.undo.busy, timeout=WAIT_MS)
    stack = view.undo.group.activeStack()
    assert stack.count() == 1
    # Another window (or the CLI) deletes that shot meanwhile.
    finish(qtbot, ui.session.pipeline.board.delete_shot(run.run_id, shot.shot_id))
    view.undo.undo()
    qtbot.waitUntil(lambda: not view.undo.busy, timeout=WAIT_MS)
    [refused] = [m for m in ui.presenter.messages if m.title.startswith("Undo: Change shot")]
    assert "not saved" in refused.title and shot.shot_id in refused.text
    assert stack.count() == 0 and not view.undo.undo_action.isEnabled()
    assert shot.shot_id not in stored_ids(ui, qtbot, run.run_id)  # nothing else changed
