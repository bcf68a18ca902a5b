"""The history panel: lists past runs, searches them, opens one, deletes after asking."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core.errors import RunNotFound
from app.core.ideas import from_text
from app.core.models import RunOptions, RunStatus
from app.ui.gallery import ImageRole
from app.ui.history import CoverRole, RunRole
from tests.ui.conftest import WAIT_MS, finish

IDEAS = ["A heist at the opera house on opening night.",
         "A picnic on Mars goes wrong when the dust storm comes.",
         "The opera singer who could not sing anymore."]


def make_runs(ui, qtbot) -> list:
    pipeline = ui.session.pipeline
    return [finish(qtbot, pipeline.start(from_text(text), RunOptions(max_shots=2)))
            for text in IDEAS]


def listed(panel) -> list[str]:
    model = panel.model
    return [model.data(model.index(row), RunRole).run_id for row in range(model.rowCount())]


def test_the_panel_lists_runs_newest_first_with_status_shots_and_a_cover(ui, qtbot):
    runs = make_runs(ui, qtbot)
    panel = ui.window.history
    qtbot.waitUntil(lambda: len(listed(panel)) == 3, timeout=WAIT_MS)  # refreshed by the events
    assert listed(panel) == [r.run_id for r in reversed(runs)]
    assert panel.count.text() == "3"
    assert panel.empty.isHidden()
    first = panel.model.index(0)
    assert first.data(RunRole).status is RunStatus.COMPLETED
    assert first.data(RunRole).shots_done == 2
    qtbot.waitUntil(lambda: first.data(CoverRole) is not None, timeout=WAIT_MS)
    assert not panel.list.grab().isNull()


def test_search_narrows_the_list_and_says_when_nothing_matches(ui, qtbot):
    runs = make_runs(ui, qtbot)
    panel = ui.window.history
    qtbot.waitUntil(lambda: len(listed(panel)) == 3, timeout=WAIT_MS)
    qtbot.keyClicks(panel.search, "opera")
    qtbot.waitUntil(lambda: len(listed(panel)) == 2, timeout=WAIT_MS)
    assert set(listed(panel)) == {runs[0].run_id, runs[2].run_id}
    panel.search.setText("opera singer")
    qtbot.waitUntil(lambda: listed(panel) == [runs[2].run_id], timeout=WAIT_MS)
    panel.search.setText("submarine")
    qtbot.waitUntil(lambda: listed(panel) == [], timeout=WAIT_MS)
    assert not panel.empty.isHidden() and "submarine" in panel.empty.text()
    panel.search.clear()
    qtbot.waitUntil(lambda: len(listed(panel)) == 3, timeout=WAIT_MS)


def test_opening_a_run_shows_it_as_it_finished(ui, qtbot):
    runs = make_runs(ui, qtbot)
    panel = ui.window.history
    qtbot.waitUntil(lambda: len(listed(panel)) == 3, timeout=WAIT_MS)
    row = listed(panel).index(runs[1].run_id)
    rect = panel.list.visualRect(panel.model.index(row))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    view = ui.window.run_view
    qtbot.waitUntil(lambda: view.run_id == runs[1].run_id, timeout=WAIT_MS)
    assert not view.live
    qtbot.waitUntil(lambda: not view.cancel_button.isVisible(), timeout=WAIT_MS)
    assert view.title.text() == runs[1].title
    assert "completed" in view.stage.text()
    assert [s.shot_id for s in view.model.shots] == [s.shot_id for s in runs[1].shots]
    model = view.model
    qtbot.waitUntil(lambda: all(model.data(model.index(r), ImageRole) is not None
                                for r in range(model.rowCount())), timeout=WAIT_MS)


def test_delete_asks_first_and_cancel_keeps_the_run(ui, qtbot):
    runs = make_runs(ui, qtbot)
    panel = ui.window.history
    qtbot.waitUntil(lambda: len(listed(panel)) == 3, timeout=WAIT_MS)
    target = runs[0]

    box = panel.confirm_delete(target)
    assert box.isVisible() and target.title in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert len(listed(panel)) == 3

    ui.window.open_run(target.run_id)
    view = ui.window.run_view
    qtbot.waitUntil(lambda: view.run is not None and view.run.run_id == target.run_id,
                    timeout=WAIT_MS)  # loaded, not only asked for
    box = panel.confirm_delete(target)
    delete = next(b for b in box.buttons() if b.text() == "Delete")
    delete.click()
    qtbot.waitUntil(lambda: target.run_id not in listed(panel), timeout=WAIT_MS)
    assert ui.window.run_view.run is None  # it was on show: the view let go of it
    history = ui.session.services.history
    with pytest.raises(RunNotFound):
        finish(qtbot, history.get_run(target.run_id))
    assert len(listed(panel)) == 2


def test_a_running_run_cannot_be_deleted(ui, renderer, qtbot):
    renderer.hold_all()
    ui.window.idea.editor.setPlainText(IDEAS[0])
    ui.window.idea.shots.setValue(1)
    ui.window.idea.generate.click()
    qtbot.waitUntil(lambda: len(ui.session.active_runs) == 1, timeout=WAIT_MS)
    run = ui.window.run_view.run
    assert ui.window.history.confirm_delete(run) is None
    assert ui.presenter.last.title == "Cannot delete a running run"
    renderer.release_all()
