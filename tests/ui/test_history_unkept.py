"""Issue 14, item 4, in the window: a run whose history was not kept is said in the message
bar after the run, with the reason the CLI gives (not only when the history panel loads)."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.settings import load_settings
from app.ui.app import open_ui
from tests.ui.conftest import WAIT_MS, finish
from tests.ui.test_runs import generate


def titled(ui, title: str) -> list:
    return [m for m in ui.presenter.messages if m.title == title]


def test_a_run_on_a_corrupt_history_is_said_to_be_unkept_after_it_ends(home, loop, qtbot,
                                                                        opener):
    db = Path(home) / "db"
    db.mkdir(mode=0o700, parents=True, exist_ok=True)
    (db / "history.db").write_bytes(os.urandom(8192))
    ui = finish(qtbot, open_ui(load_settings(), opener=opener))
    try:
        ui.window.show()
        qtbot.waitExposed(ui.window)
        ui.start([])
        qtbot.waitUntil(lambda: bool(titled(ui, "Loading history")), timeout=WAIT_MS)  # as before

        generate(ui, qtbot, "A keeper and a door.", shots=1)

        qtbot.waitUntil(lambda: bool(titled(ui, "Saving history")), timeout=WAIT_MS)
        [after] = titled(ui, "Saving history")
        assert after.text.startswith("history is unavailable, ")
        assert "change(s) were not kept" in after.text and "file is not a database" in after.text
        assert not after.bug and "Check the history settings" in after.hint
    finally:
        finish(qtbot, ui.aclose())
    assert not [m for m in ui.presenter.messages if m.bug]
