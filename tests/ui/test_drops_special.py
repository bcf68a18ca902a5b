"""Dropping something that is not a plain file: refused with what it is, and the window
never waits on it (the core reads it, off the GUI thread, without blocking)."""

from __future__ import annotations

import contextlib
import os

import pytest

from tests.ui.conftest import WAIT_MS, drop, file_mime


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_a_dropped_named_pipe_is_refused_and_nothing_hangs(ui, qtbot, tmp_path):
    pipe = tmp_path / "idea.txt"
    os.mkfifo(pipe)
    drop(ui.window, file_mime(pipe))
    try:
        qtbot.waitUntil(lambda: ui.presenter.last is not None, timeout=WAIT_MS)
    finally:  # if a reader is waiting for a writer (the old code), let it go
        with contextlib.suppress(OSError):  # ENXIO: nobody is reading, as it should be
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
    assert ui.presenter.last.title == "Nothing was queued"
    assert "idea.txt is a named pipe (FIFO), not an idea file" in ui.presenter.last.text
    assert not ui.presenter.last.bug
    assert ui.session.queued == [] and ui.session.active_runs == []

