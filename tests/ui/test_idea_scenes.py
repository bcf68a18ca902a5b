"""The idea bar's Scenes field: only the scenes chosen are storyboarded, the rest stay in
the run's script; a field that cannot be read queues nothing and says why."""

from __future__ import annotations

from app.core.models import RunStatus
from tests.ui.conftest import WAIT_MS


def screenplay(n: int) -> str:
    out = ["Title: Six Doors", ""]
    for i in range(1, n + 1):
        out += [f"INT. ROOM {i} - NIGHT", "", f"MARA opens door {i} and finds a lamp.", ""]
    return "\n".join(out)


def test_the_scenes_field_storyboards_only_those_scenes(ui, recorder, qtbot):
    idea = ui.window.idea
    idea.editor.setPlainText(screenplay(6))
    idea.scenes.setText("2, 4-5")
    assert idea.submit_typed()
    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.COMPLETED
    assert [s.index for s in run.scenes] == [1, 2, 3, 4, 5, 6]
    assert sorted({s.scene for s in run.shots}) == [2, 4, 5]
    [notice] = [m for m in ui.presenter.messages if m.title == "Not every scene is storyboarded"]
    assert notice.text == (f"Storyboarding 3 of the script's 6 scenes; the other 3 stay in its "
                           f"script. To draw them later into this run: storyreel resume "
                           f"{run.run_id} --scenes N-M")


def test_a_run_that_draws_every_scene_says_nothing_about_scenes(ui, recorder, qtbot):
    ui.window.idea.editor.setPlainText(screenplay(3))
    assert ui.window.idea.submit_typed()
    recorder.wait_finished(qtbot)
    assert [m.title for m in ui.presenter.messages] == []


def test_a_bad_scenes_field_queues_nothing_and_says_why(ui, qtbot):
    idea = ui.window.idea
    idea.editor.setPlainText(screenplay(6))
    idea.scenes.setText("5-2")
    assert not idea.submit_typed()
    [message] = ui.presenter.messages
    assert message.title == "Nothing was queued"
    assert "runs backwards; write 2-5" in message.text
    assert idea.editor.toPlainText() == screenplay(6)  # kept, to fix the field and go again
    assert ui.session.queued == [] and ui.session.active_runs == []


def test_the_estimate_of_a_typed_screenplay_covers_the_chosen_scenes_and_the_script(
        make_ui, qtbot):
    from app.core import scenes
    from app.core.ideas import from_text
    from tests.ui.test_craft import CLOUD, write_env

    write_env(CLOUD)
    ui = make_ui()
    idea = ui.window.idea
    qtbot.waitUntil(lambda: idea.estimate.text().startswith("Estimate"), timeout=WAIT_MS)
    size = scenes.script_size(from_text(screenplay(30)))
    idea.editor.setPlainText(screenplay(30))
    idea.shots.setValue(10)
    qtbot.waitUntil(lambda: idea.estimate.text().startswith("Estimate: 10 GPU jobs, about 40 "),
                    timeout=WAIT_MS)
    assert (f"The whole script: 30 scenes, about {size.shots} shots, about "
            f"{size.shots * 4} GPU s") in idea.estimate.toolTip()
    assert "Shots: 10 (the scenes to storyboard)" in idea.estimate.toolTip()

    idea.shots.setValue(0)
    idea.scenes.setText("1-2")
    two = sum(len(p.shots) for p in size.plans[:2])
    qtbot.waitUntil(lambda: idea.estimate.text().startswith(f"Estimate: {two} GPU jobs"),
                    timeout=WAIT_MS)
