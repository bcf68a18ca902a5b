"""Text from a server or from history is shown as it is written: HTML in an error or a
title is not rendered (no bold, no link to click), and the log is private."""

from __future__ import annotations

import logging
import os
import stat

from PySide6.QtCore import Qt

from app.core.models import Run
from app.ui.errors import ErrorPresenter, MessageBar

HOSTILE = 'server said <b>no</b> <a href="https://example.invalid/">click here</a>'


def test_the_message_bar_shows_html_in_an_error_literally(qtbot):
    presenter = ErrorPresenter()
    bar = MessageBar()
    qtbot.addWidget(bar)
    presenter.attach(bar)
    presenter.report("<b>Export</b> failed", HOSTILE)
    assert bar.text.text().startswith(HOSTILE)
    assert bar.title.text() == "<b>Export</b> failed"
    for label in (bar.title, bar.text):
        assert label.textFormat() is Qt.TextFormat.PlainText
    assert not bar.text.openExternalLinks()
    presenter.messages.clear()  # reported on purpose: not a bug of this test


def test_a_title_with_html_is_shown_literally_in_the_run_view(ui, qtbot):
    view = ui.window.run_view
    run = Run(idea="an idea", title="<b>Bold</b> <a href='x'>title</a>", source="<i>f</i>.txt")
    view.show_run(run, live=False)
    qtbot.waitUntil(lambda: view.title.text() == run.title)
    for label in (view.title, view.meta, view.stage):
        assert label.textFormat() is Qt.TextFormat.PlainText


def test_the_window_logs_to_a_private_folder_and_file(tmp_path):
    from app.ui.app import LOG_FILE, start_logging

    old = os.umask(0o022)
    try:
        stop = start_logging(tmp_path / "logs")
        try:
            logging.getLogger("test.window").warning("hello")
        finally:
            stop()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "logs" / LOG_FILE).stat().st_mode) == 0o600
