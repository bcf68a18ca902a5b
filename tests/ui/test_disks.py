"""A full disk under the data folder, met from the window: the run stops once, says why
and what to do, and nothing is reported as a bug (no traceback dialog)."""

from __future__ import annotations

from pathlib import Path

from app.core.models import RunStatus
from tests.fakes.disks import tmpfs
from tests.ui.conftest import Recorder
from tests.ui.test_runs import generate


def test_a_full_disk_fails_the_run_with_advice_not_a_bug(home, make_ui, qtbot, caplog):
    blobs = Path(home) / "blobs"
    with tmpfs(blobs, "64k"):
        ui = make_ui()
        recorder = Recorder(ui)
        with caplog.at_level("ERROR"):
            generate(ui, qtbot, shots=8)
            [run] = recorder.wait_finished(qtbot)
        assert run.status is RunStatus.FAILED
        assert f"the disk holding {blobs} is full: free some space" in run.error
        stage = ui.window.run_view.stage.text()
        assert "is full: free some space" in stage
        assert not [m for m in ui.presenter.messages if m.bug]
        assert not [r for r in caplog.records if r.exc_info]  # no traceback in the log
        ui.window.close()
