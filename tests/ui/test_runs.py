"""Acting on runs from the window: generate, cancel, retry, regenerate, resume, quit."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core.events import RunDetached
from app.core.ideas import from_text
from app.core.models import Run, RunStatus, ShotStatus
from app.core.ownership import Identity, now_ms
from app.core.progress import Progress
from app.ui.gallery import ImageRole
from tests.ui.conftest import WAIT_MS, finish

IDEA = "A lighthouse keeper sees a light at sea where no ship should be."


def generate(ui, qtbot, text: str = IDEA, shots: int = 3) -> None:
    ui.window.idea.shots.setValue(shots)
    ui.window.idea.editor.setPlainText(text)
    ui.window.idea.editor.setFocus()
    qtbot.keyClick(ui.window.idea.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def test_ctrl_enter_generates_from_the_typed_idea_and_clears_the_editor(ui, recorder, qtbot):
    generate(ui, qtbot)
    assert ui.window.idea.editor.toPlainText() == ""
    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.COMPLETED and run.shot_count == 3
    assert run.idea == IDEA and run.source is None
    assert ui.window.run_view.model.run_id == run.run_id
    assert "completed" in ui.window.run_view.stage.text()


def test_an_empty_idea_is_refused_with_a_message(ui, qtbot):
    ui.window.idea.editor.setPlainText("   \n  ")
    ui.window.idea.generate.click()
    assert ui.presenter.last.title == "Nothing was queued"
    assert "empty" in ui.presenter.last.text
    assert ui.session.queued == [] and ui.session.active_runs == []


def test_ideas_queue_up_and_run_one_after_another(ui, renderer, recorder, qtbot):
    renderer.hold_all()
    generate(ui, qtbot, "First idea: a storm.", shots=1)
    generate(ui, qtbot, "Second idea: a calm.", shots=1)
    qtbot.waitUntil(lambda: len(ui.session.active_runs) == 1, timeout=WAIT_MS)
    assert len(ui.session.queued) == 1
    assert ui.window.idea.queue_label.text() == "1 idea waiting"
    renderer.release_all()
    runs = recorder.wait_finished(qtbot, count=2)
    assert [r.idea for r in runs] == ["First idea: a storm.", "Second idea: a calm."]
    assert ui.window.idea.queue_label.text() == ""


def test_cancel_stops_the_run_and_the_cards_say_cancelled(ui, renderer, recorder, qtbot):
    renderer.hold_all()
    generate(ui, qtbot, shots=4)
    view = ui.window.run_view
    qtbot.waitUntil(lambda: len(renderer.started) >= 1, timeout=WAIT_MS)
    qtbot.waitUntil(view.cancel_button.isVisible, timeout=WAIT_MS)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.CANCELLED
    assert renderer.cancelled and not renderer.finished
    # the cards catch up on the events they were sent (updates are batched)
    qtbot.waitUntil(lambda: {s.status for s in view.model.shots} == {ShotStatus.CANCELLED},
                    timeout=WAIT_MS)
    assert ui.session.active_runs == []
    # the header is redrawn at most ten times a second
    qtbot.waitUntil(lambda: not view.cancel_button.isVisible(), timeout=WAIT_MS)
    assert view.retry_button.isVisible()  # cancelled shots can be rendered later
    stored = finish(qtbot, ui.session.services.history.get_run(run.run_id))
    assert stored.status is RunStatus.CANCELLED


def test_retry_failed_renders_only_the_failed_shots(ui, renderer, recorder, qtbot):
    renderer.fail["s02-01"] = 1
    generate(ui, qtbot, shots=3)
    [first] = recorder.wait_finished(qtbot)
    assert first.status is RunStatus.PARTIAL
    view = ui.window.run_view
    failed = view.model.shot("s02-01")
    assert failed.status is ShotStatus.FAILED and "CUDA out of memory" in failed.error
    qtbot.waitUntil(view.retry_button.isVisible, timeout=WAIT_MS)  # header redraws are batched
    started_before = len(renderer.started)

    view.retry_button.click()
    runs = recorder.wait_finished(qtbot, count=2)
    assert runs[1].run_id == first.run_id and runs[1].status is RunStatus.COMPLETED
    assert renderer.started[started_before:] == ["s02-01"]
    assert {s.status for s in view.model.shots} == {ShotStatus.DONE}
    model = view.model
    qtbot.waitUntil(lambda: all(model.data(model.index(r), ImageRole) is not None
                                for r in range(model.rowCount())), timeout=WAIT_MS)


def test_regenerate_from_the_shot_dialog_keeps_the_old_image_as_a_version(
        ui, renderer, recorder, qtbot):
    generate(ui, qtbot, shots=2)
    [run] = recorder.wait_finished(qtbot)
    shot = ui.window.run_view.model.shots[0]
    old_image = shot.image
    dialog = ui.window.open_shot(shot)
    assert dialog.windowTitle() == f"Shot {shot.number}"
    assert dialog.prompt.toPlainText() == shot.prompt
    assert dialog.seed.value() == shot.seed
    assert shot.job_id is None or shot.job_id in dialog.job.text()
    qtbot.waitUntil(lambda: dialog.image.image is not None, timeout=WAIT_MS)  # loaded off-thread

    dialog.prompt.setPlainText("A lighthouse at dawn, seen from the sea, pencil sketch")
    dialog.seed.setValue(1234)
    dialog.regenerate.click()
    runs = recorder.wait_finished(qtbot, count=2)
    assert runs[1].run_id == run.run_id and runs[1].status is RunStatus.COMPLETED
    new = ui.window.run_view.model.shot(shot.shot_id)
    assert new.seed == 1234
    assert new.prompt == "A lighthouse at dawn, seen from the sea, pencil sketch"
    assert [v.image for v in new.versions] == [old_image]
    assert new.image is not None and new.image.key != old_image.key
    qtbot.waitUntil(lambda: dialog.versions.count() == 2 and dialog.versions.isVisible(),
                    timeout=WAIT_MS)  # the open dialog followed the shot
    dialog.close()


def test_an_interrupted_run_is_offered_for_resume_at_start_up(make_ui, qtbot):
    first = make_ui(show=False)
    pipeline = first.session.pipeline
    stopped = Progress()
    pipeline.subscribe(stopped.update)
    renderer = first.session.services.renderer
    renderer.hold("s02-01")
    run_task = first.ops.start(pipeline.start(from_text(IDEA), _options(3)), what="run")
    qtbot.waitUntil(lambda: stopped.done == 2, timeout=WAIT_MS)
    run_id = first.session.active_runs[0]
    run_task.cancel()  # like a crash: the history still says "running" for one shot ...
    qtbot.waitUntil(run_task.done, timeout=WAIT_MS)
    history = first.session.services.history
    finish(qtbot, history.update_run(run_id, {"status": "running"}))  # ... and for the run

    second = make_ui()
    qtbot.waitUntil(lambda: second.presenter.last is not None, timeout=WAIT_MS)
    offer = second.presenter.last
    assert offer.title == "1 interrupted run(s)" and offer.level == "info"
    assert [a.label for a in offer.actions] == ["Resume"]
    recorder = []
    second.bridge.run_finished.connect(recorder.append)
    second.window.message_bar.actions_box.itemAt(0).widget().click()
    qtbot.waitUntil(lambda: len(recorder) == 1, timeout=WAIT_MS)
    run: Run = recorder[0]
    assert run.run_id == run_id and run.status is RunStatus.COMPLETED
    assert second.window.run_view.run_id == run_id
    assert second.window.message_bar.isHidden()


def _options(shots: int):
    from app.core.models import RunOptions

    return RunOptions(max_shots=shots)


def test_closing_with_a_run_in_flight_asks_then_cancels_and_shuts_down_cleanly(
        ui, renderer, recorder, qtbot):
    renderer.hold_all()
    generate(ui, qtbot, shots=2)
    qtbot.waitUntil(lambda: len(renderer.started) >= 1, timeout=WAIT_MS)
    asked = []
    ui.window.close_requested.connect(lambda: asked.append(True))

    ui.window.close()  # the close button
    assert ui.window.isVisible()  # not yet: it asks
    box = ui.window.findChild(QMessageBox)
    assert box is not None and "still working" in box.text()
    keep = next(b for b in box.buttons() if b.text() == "Keep working")
    keep.click()
    assert asked == [] and ui.session.active_runs

    box = ui.window.request_close()
    quit_button = next(b for b in box.buttons() if b.text() == "Cancel runs and quit")
    quit_button.click()
    assert asked == [True]
    finish(qtbot, ui.aclose())  # what main() does next
    assert renderer.cancelled
    [run] = recorder.finished()
    assert run.status is RunStatus.CANCELLED
    assert ui.session.active_runs == [] and ui.ops.busy == 0


def test_quitting_to_resume_later_leaves_the_run_resumable(ui, renderer, recorder, qtbot):
    renderer.hold_all()
    generate(ui, qtbot, shots=3)
    qtbot.waitUntil(lambda: len(renderer.started) >= 1, timeout=WAIT_MS)

    box = ui.window.request_close()
    later = next(b for b in box.buttons() if b.text() == "Quit, resume later")
    later.click()
    finish(qtbot, ui.aclose())

    assert renderer.kept and not renderer.cancelled  # the cloud jobs were left running
    assert recorder.finished() == []  # the run did not end: it was left to be resumed
    [detached] = [e.run for e in recorder.events if isinstance(e, RunDetached)]
    assert detached.status is RunStatus.RUNNING
    assert {s.status for s in detached.shots} <= {ShotStatus.RENDERING, ShotStatus.QUEUED}
    assert ui.session.active_runs == []


def test_a_run_another_process_is_rendering_is_not_offered_for_resume(make_ui, qtbot):
    first = make_ui(show=False)
    history = first.session.services.history
    elsewhere = Identity(machine="desktop/bbb", host="desktop", pid=1234, token="tok-them")
    theirs = Run(idea="Theirs", title="Their run", owner=elsewhere.owner(now_ms()))
    stopped = Run(idea="A keeper and a lamp.", title="Stopped run",
                  owner=elsewhere.owner(now_ms() - 60_000))  # its heartbeat ran out
    finish(qtbot, history.create_run(theirs))
    finish(qtbot, history.create_run(stopped))

    second = make_ui()
    shown: list[str] = []
    second.window.statusBar().messageChanged.connect(shown.append)
    qtbot.waitUntil(lambda: second.presenter.last is not None, timeout=WAIT_MS)

    offer = second.presenter.last
    assert offer.title == "1 interrupted run(s)"
    assert "Stopped run" in offer.text and "Their run" not in offer.text
    assert "being rendered by another window or computer" in (
        second.window.statusBar().currentMessage())

    finished = []
    second.bridge.run_finished.connect(finished.append)
    second.window.message_bar.actions_box.itemAt(0).widget().click()
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=WAIT_MS)
    assert finished[0].run_id == stopped.run_id
    assert any(m.startswith(f"run {stopped.run_id}: taking it over from process 1234 on "
                            "host desktop") for m in shown), shown
    owner = finish(qtbot, history.run_owner(theirs.run_id))
    assert owner is not None and owner.token == "tok-them"  # theirs was left alone
