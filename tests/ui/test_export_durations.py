"""The export dialog's seconds: each shot's own duration by default, one for all when set."""

from __future__ import annotations

import opentimelineio as otio

from app.core.timing import shot_duration
from tests.ui.conftest import WAIT_MS
from tests.ui.test_export import open_dialog, show_finished_run


def test_by_default_each_shot_keeps_its_own_time_and_a_value_sets_one_for_all(ui, qtbot,
                                                                             tmp_path):
    run = show_finished_run(ui, qtbot)
    dialog = open_dialog(ui, "otio", tmp_path / "own.otio")
    assert dialog.seconds.value() == 0.0
    assert dialog.seconds.text() == "Each shot’s own"
    assert dialog.options().seconds_per_shot is None
    dialog.seconds.setValue(2.5)
    assert dialog.options().seconds_per_shot == 2.5
    dialog.seconds.setValue(0.0)
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS) as written:
        dialog.export_button.click()
    timeline = otio.adapters.read_from_file(str(written.args[0]))
    own = [round(shot_duration(s) * 24) for s in sorted(run.shots, key=lambda s: s.order)]
    assert [c.duration().value for c in timeline.find_clips()] == own
