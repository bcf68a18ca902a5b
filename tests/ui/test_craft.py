"""Storyboard craft in the window: edit a look or a scene, regenerate the stale shots, use
an earlier version of a shot, and see what runs cost before and after.

The window is the real one on the draft parts (``make_ui``); a cloud set-up for the
estimate is the settings a person saves (``STORYREEL_HOME/.env``) pointing at RunPod and
R2: the estimate reads the history only, so nothing is contacted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QMetaMethod, Qt

from app.core.models import (
    Character,
    Run,
    RunStatus,
    Scene,
    Script,
    Shot,
    ShotStatus,
    ShotType,
    Stage,
    StageTimes,
)
from app.core.settings import load_settings
from app.ui.gallery import ImageRole
from tests.ui.conftest import WAIT_MS, finish

IDEA = ("An old lighthouse keeper, Mara, and a runaway boy, Tom, keep the light burning "
        "through a storm. Mara finds a letter. Tom climbs the stairs.")
RED_COAT = ("Tom is a boy of about 12, thin, with freckles and red hair, in a bright red "
            "raincoat and green boots.")
CLOUD = {"RUNPOD_API_KEY": "rp-key-never-shown", "RUNPOD_SHOT_ENDPOINT": "shots-1",
         "R2_ENDPOINT_URL": "http://127.0.0.1:9", "R2_ACCESS_KEY_ID": "id",
         "R2_SECRET_ACCESS_KEY": "secret", "R2_BUCKET": "reels"}


@pytest.fixture
def view(ui):
    """The run view, acting through the window's session."""
    view = ui.window.run_view
    assert view.session is ui.session  # the window wires it
    return view


def open_scenes(view, qtbot) -> None:
    """Open the Scenes tab as a person would: its editors are built when it is shown."""
    view.tabs.setCurrentWidget(view.scenes)
    qtbot.waitUntil(lambda: all(e.isVisible() for e in [*view.scenes.looks.values(),
                                                        *view.scenes.scenes.values()]),
                    timeout=WAIT_MS)


def draft_run(ui, qtbot, recorder, shots: int = 8) -> Run:
    ui.window.idea.shots.setValue(shots)
    ui.window.idea.editor.setPlainText(IDEA)
    ui.window.idea.generate.click()
    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.COMPLETED
    qtbot.waitUntil(lambda: not ui.session.active_runs, timeout=WAIT_MS)
    return run


def stored(ui, qtbot, run_id: str) -> Run:
    return finish(qtbot, ui.session.services.history.get_run(run_id))


def tooltip(view, row: int) -> str:
    return view.model.data(view.model.index(row), Qt.ItemDataRole.ToolTipRole)


def stale_ids(view) -> set[str]:
    return {s.shot_id for s in view.model.shots if s.stale}


def test_a_new_look_marks_that_characters_cards_stale_and_regenerates_only_them(
        ui, view, renderer, recorder, qtbot):
    run = draft_run(ui, qtbot, recorder)
    toms = {s.shot_id for s in view.model.shots if "TOM" in s.characters}
    assert toms and toms != {s.shot_id for s in view.model.shots}
    assert not view.stale_button.isVisible()

    open_scenes(view, qtbot)
    editor = view.scenes.looks["TOM"]
    assert editor.look.toPlainText() == run.script.characters[1].description
    assert not editor.apply_button.isEnabled()  # nothing changed yet
    editor.look.setPlainText(RED_COAT)
    assert editor.apply_button.isEnabled()
    qtbot.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: stale_ids(view) == toms, timeout=WAIT_MS)
    for row, shot in enumerate(view.model.shots):
        assert ("Stale: Tom's look changed" in tooltip(view, row)) == (shot.shot_id in toms)
    qtbot.waitUntil(view.stale_button.isVisible, timeout=WAIT_MS)
    # the header redraws ten times a second: it may show the first stale events' count
    qtbot.waitUntil(lambda: view.stale_button.text()
                    == f"Regenerate stale shots ({len(toms)})", timeout=WAIT_MS)
    # The events mark the cards stale; the save's own answer (the note) may come after them.
    qtbot.waitUntil(lambda: editor.note.text().startswith(
        f"Saved. {len(toms)} shots are now stale"), timeout=WAIT_MS)
    assert f"{len(toms)} stale" in editor.meta.text()
    assert not editor.apply_button.isEnabled()  # saved: the field is the stored look now
    saved = stored(ui, qtbot, run.run_id)
    assert {s.shot_id for s in saved.shots if s.stale} == toms
    assert saved.script.characters[1].description == RED_COAT

    before = len(renderer.started)
    qtbot.mouseClick(view.stale_button, Qt.MouseButton.LeftButton)
    again = recorder.wait_finished(qtbot, count=2)[1]
    assert again.run_id == run.run_id and again.status is RunStatus.COMPLETED
    assert sorted(renderer.started[before:]) == sorted(toms)  # only those were rendered
    qtbot.waitUntil(lambda: not stale_ids(view) and not view.stale_button.isVisible(),
                    timeout=WAIT_MS)
    for row, shot in enumerate(view.model.shots):
        redrawn = shot.shot_id in toms
        assert len(shot.versions) == (1 if redrawn else 0)
        assert ("red raincoat" in shot.prompt) == redrawn
        assert "Stale" not in tooltip(view, row)
    qtbot.waitUntil(lambda: all(view.model.data(view.model.index(r), ImageRole) is not None
                                for r in range(view.model.rowCount())), timeout=WAIT_MS)
    assert not any(s.stale for s in stored(ui, qtbot, run.run_id).shots)


def test_a_scene_edit_is_applied_and_regenerated_from_the_keyboard(
        ui, view, renderer, recorder, qtbot):
    run = draft_run(ui, qtbot, recorder)
    open_scenes(view, qtbot)
    editor = view.scenes.scenes[2]
    assert editor.heading.text() == run.scenes[1].heading
    editor.summary.setPlainText("The storm breaks the lamp; Mara lights a candle in the "
                                "window instead.")
    editor.summary.setFocus()
    qtbot.keyClick(editor.summary, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    second = {s.shot_id for s in view.model.shots if s.scene == 2}
    qtbot.waitUntil(lambda: stale_ids(view) == second, timeout=WAIT_MS)
    assert "Stale: scene 2 changed" in tooltip(view, view.model.row_of(min(second)))
    qtbot.waitUntil(lambda: f"{len(second)} stale" in editor.meta.text(), timeout=WAIT_MS)
    assert stored(ui, qtbot, run.run_id).scenes[1].summary.startswith("The storm breaks")

    before = len(renderer.started)
    qtbot.keyClick(editor.summary, Qt.Key.Key_R,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    recorder.wait_finished(qtbot, count=2)
    assert sorted(renderer.started[before:]) == sorted(second)
    assert all("candle" in view.model.shot(sid).prompt for sid in second)


def test_a_bad_edit_says_why_and_changes_nothing(ui, view, recorder, qtbot):
    run = draft_run(ui, qtbot, recorder)
    open_scenes(view, qtbot)
    look = view.scenes.looks["MARA"]
    look.look.setPlainText("   ")
    qtbot.mouseClick(look.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ui.presenter.last is not None, timeout=WAIT_MS)
    message = ui.presenter.last
    assert message.title == "The look of Mara was not changed"
    assert message.text == "a look can't be empty" and not message.bug
    assert ui.window.message_bar.isVisible()
    assert "a look can't be empty" in ui.window.message_bar.text.text()
    assert look.look.toPlainText() == "   "  # what was typed stays, to be corrected

    scene = view.scenes.scenes[1]
    scene.heading.setText("INT. " + "VERY " * 30 + "LONG CORRIDOR - NIGHT")
    qtbot.mouseClick(scene.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ui.presenter.last is not message, timeout=WAIT_MS)
    assert ui.presenter.last.title == "Scene 1 was not changed"
    assert ui.presenter.last.text == "a scene heading is at most 120 characters"

    assert stale_ids(view) == set() and not view.stale_button.isVisible()
    kept = stored(ui, qtbot, run.run_id)
    assert kept.script == run.script and kept.scenes == run.scenes
    assert not any(s.stale for s in kept.shots)


def test_editing_waits_for_the_run_to_finish(ui, view, renderer, recorder, qtbot):
    renderer.hold_all()
    ui.window.idea.shots.setValue(3)
    ui.window.idea.editor.setPlainText(IDEA)
    ui.window.idea.generate.click()
    open_scenes(view, qtbot)
    qtbot.waitUntil(lambda: len(renderer.started) >= 1 and bool(view.scenes.looks),
                    timeout=WAIT_MS)
    editor = view.scenes.looks["MARA"]
    editor.look.setPlainText(RED_COAT)
    assert not editor.apply_button.isEnabled()
    assert "still working" in editor.apply_button.toolTip()
    renderer.release_all()
    recorder.wait_finished(qtbot)
    qtbot.waitUntil(editor.apply_button.isEnabled, timeout=WAIT_MS)
    assert editor.look.toPlainText() == RED_COAT  # kept while the run finished


def open_shot(ui, shot: Shot):
    dialog = ui.window.open_shot(shot)
    assert dialog.isSignalConnected(QMetaMethod.fromSignal(dialog.pick_requested))
    return dialog


def test_use_an_earlier_version_from_the_shot_dialog(ui, view, recorder, qtbot):
    run = draft_run(ui, qtbot, recorder, shots=2)
    first = view.model.shots[0]
    finish(qtbot, ui.session.regenerate(run.run_id, first.shot_id, seed=1234))
    recorder.wait_finished(qtbot, count=2)
    qtbot.waitUntil(lambda: view.model.shot(first.shot_id).seed == 1234, timeout=WAIT_MS)
    shot = view.model.shot(first.shot_id)
    assert [v.image.key for v in shot.versions] == [first.image.key]

    dialog = open_shot(ui, shot)
    assert dialog.versions_box.isVisible()
    assert [dialog.versions.item(r).text() for r in range(2)] == ["v1", "v2 · current"]
    assert not dialog.use_version.isEnabled()  # the current image is on show
    dialog.versions.setCurrentRow(0)
    assert f"seed {first.seed}" in dialog.version_info.text()
    assert dialog.version_prompt.toPlainText() == first.prompt
    qtbot.waitUntil(lambda: dialog.image.image is not None, timeout=WAIT_MS)
    assert dialog.use_version.isEnabled()
    qtbot.mouseClick(dialog.use_version, Qt.MouseButton.LeftButton)

    row = view.model.row_of(first.shot_id)
    qtbot.waitUntil(lambda: view.model.shots[row].image.key == first.image.key,
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: view.model.data(view.model.index(row), ImageRole) is not None,
                    timeout=WAIT_MS)
    assert view.model.shots[row].seed == first.seed
    qtbot.waitUntil(lambda: dialog.versions.item(0).text() == "v1 · current", timeout=WAIT_MS)
    kept = stored(ui, qtbot, run.run_id).shot(first.shot_id)
    assert kept.image.key == first.image.key and kept.image_attempt == 1
    assert [v.attempt for v in kept.versions] == [2] and kept.versions[0].seed == 1234
    dialog.close()


# What it costs.


def test_an_offline_set_up_says_a_run_is_free(ui):
    estimate = ui.window.idea.estimate
    assert estimate.isVisible() and estimate.text() == "Offline: free"


def write_env(values: dict[str, str]) -> None:
    home = Path(load_settings().home)
    (home / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()),
                               encoding="utf-8")


def test_the_estimate_for_a_runpod_renderer_follows_shots_settings_and_history(
        make_ui, qtbot):
    write_env(CLOUD)
    ui = make_ui()
    idea = ui.window.idea
    qtbot.waitUntil(lambda: idea.estimate.text().startswith("Estimate"), timeout=WAIT_MS)
    # No history yet: a typical storyboard at the stated default per shot; no price set.
    assert idea.estimate.text() == ("Estimate: 20 GPU jobs, about 80 GPU s · set a price in "
                                    "Settings to see the cost")
    assert "a typical storyboard" in idea.estimate.toolTip()
    assert "rp-key" not in idea.estimate.toolTip()

    idea.shots.setValue(5)
    qtbot.waitUntil(lambda: idea.estimate.text().startswith("Estimate: 5 GPU jobs, about 20 "),
                    timeout=WAIT_MS)

    # A finished run on the same endpoint, at the same frame size: 3 GPU s a shot from now on.
    past = Run(idea="Earlier.", status=RunStatus.COMPLETED, writer="draft (offline)",
               renderer="RunPod shots-1", shot_count=10, shots_done=10, gpu_seconds=30.0,
               width=1360, height=768)
    finish(qtbot, ui.session.services.history.create_run(past))
    settings = load_settings({**CLOUD, "STORYREEL_PRICE_PER_GPU_SECOND": "0.002",
                              "STORYREEL_HOME": str(ui.session.settings.home)})
    finish(qtbot, ui.session.reopen(settings))
    qtbot.waitUntil(lambda: "$" in idea.estimate.text(), timeout=WAIT_MS)
    assert idea.estimate.text() == "Estimate: 5 GPU jobs, about 15 GPU s · about $0.03"
    assert "your last run on it" in idea.estimate.toolTip()
    assert "Price: $0.002 per GPU second" in idea.estimate.toolTip()


def costly_run() -> Run:
    def shot(n: int, timings: dict[str, float]) -> Shot:
        return Shot(run_id="r-cost", shot_id=f"s01-0{n}", scene=1, index=n,
                    number=f"1{'AB'[n - 1]}", shot_type=ShotType.WIDE,
                    description="The lamp.", status=ShotStatus.DONE, timings=timings)

    run = Run(run_id="r-cost", idea="A lamp.", title="The Lamp", status=RunStatus.COMPLETED,
              created_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC), writer="RunPod vLLM w-1",
              renderer="RunPod shots-1", scenes=[Scene(index=1, heading="INT. LAMP ROOM")],
              script=Script(title="The Lamp", logline="l", screenplay="",
                            characters=[Character(name="MARA", description="old")]),
              stages={Stage.WRITING_SCRIPT.value: StageTimes(jobs=1, gpu_s=12.5, queue_s=3.0,
                                                             wall_s=20.0),
                      Stage.RENDERING_SHOTS.value: StageTimes(wall_s=9.0)},
              shots=[shot(1, {"gpu_s": 4.0, "queue_s": 1.5, "wall_s": 6.0}),
                     shot(2, {"gpu_s": 4.0, "queue_s": 1.5, "failed_gpu_s": 2.0,
                              "failed_jobs": 1, "wall_s": 8.0})])
    run.tally()
    return run


def test_the_run_view_and_history_say_what_a_run_cost_by_stage(ui, view):
    run = costly_run()
    view.show_run(run, live=False)
    assert view.cost.isVisible()
    assert view.cost.text() == "Cost: 22.5 GPU s, 6.0 s queued"
    tip = view.cost.toolTip().splitlines()
    assert "script: 1 jobs, 12.5 GPU s, 3.0 s queued, 20.0 s wall" in tip
    assert "shots: 3 jobs, 10.0 GPU s, 3.0 s queued, 9.0 s wall" in tip
    assert "In all: 4 jobs, 22.5 GPU s, 6.0 s queued" in tip

    history = ui.window.history.model
    history.set_runs([run])
    assert "GPU: 22.5 s billed, 6.0 s queued" in history.data(history.index(0),
                                                              Qt.ItemDataRole.ToolTipRole)


def test_a_draft_run_shows_no_cost(ui, view, recorder, qtbot):
    draft_run(ui, qtbot, recorder, shots=2)
    assert view.cost.text() == "" and view.cost.toolTip() == ""
