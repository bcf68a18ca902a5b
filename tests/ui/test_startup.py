"""Start-up: the window first, the services right after its first paint."""

from __future__ import annotations

import os
import subprocess
import sys

from app.core.settings import load_settings
from app.ui.app import build_ui
from tests.conftest import REPO
from tests.ui.conftest import WAIT_MS, Recorder, finish

HEAVY = ("pymongo", "aiobotocore", "botocore", "reportlab", "opentimelineio",
         "app.core.services", "app.core.history.mongo",
         "boto3", "aiohttp", "PIL", "screenplain", "neosqlite", "nx_27017", "bson",
         "app.core.pipeline", "app.core.export", "app.commands")

# What each module imported by the time the window first painted, through ``run_gui``.
AT_FIRST_PAINT = f"""
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from app.ui.app import run_gui
from app.ui.window import MainWindow

app = QApplication([sys.argv[0]])

class FirstPaint(QObject):
    seen = False

    def eventFilter(self, obj, event):
        if not self.seen and event.type() == QEvent.Type.Paint and isinstance(obj, MainWindow):
            self.seen = True
            print("at first paint:", sorted(m for m in {HEAVY!r} if m in sys.modules))
            print("status:", obj.statusBar().currentMessage())
            obj.session.opened.connect(lambda _s: (
                print("opened:", sorted(m for m in {HEAVY!r} if m in sys.modules)), app.quit()))
        return False

spy = FirstPaint()
app.installEventFilter(spy)
raise SystemExit(run_gui([]))
"""


def test_the_window_paints_before_the_heavy_core_is_imported(home):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STORYREEL_LANG": "en"}
    result = subprocess.run([sys.executable, "-c", AT_FIRST_PAINT], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert lines["at first paint"] == "[]"
    assert lines["status"] == "Starting: opening the history and storage…"
    assert "app.core.services" in lines["opened"]  # and then they were opened


def test_an_idea_typed_before_the_services_are_open_runs_once_they_are(loop, qtbot, opener):
    settings = load_settings()
    ui = build_ui(settings, opener=opener)
    try:
        recorder = Recorder(ui)
        ui.window.show()
        qtbot.waitExposed(ui.window)
        assert not ui.session.is_open
        assert ui.window.where.text() == settings.summary()  # known before the services
        ui.window.offer_resume()  # waits for the services: nothing to look in yet
        ui.window.idea.editor.setPlainText("A lighthouse keeper sees a light at sea.")
        ui.window.idea.shots.setValue(2)
        assert ui.window.idea.submit_typed()
        assert ui.session.queued  # waiting for the services
        ui.session.set_services(finish(qtbot, opener(settings)))
        ui.start([])
        run = recorder.wait_finished(qtbot, 1, timeout=WAIT_MS)[0]
        assert run.shots_done == 2
        assert ui.window.statusBar().currentMessage() != \
            "Starting: opening the history and storage…"
        qtbot.waitUntil(lambda: ui.window.history.model.rowCount() == 1, timeout=WAIT_MS)
    finally:
        finish(qtbot, ui.aclose())
    assert not [m for m in ui.presenter.messages if m.bug]


def test_quitting_before_the_services_are_open_closes_cleanly(loop, qtbot, opener):
    ui = build_ui(load_settings(), opener=opener)
    ui.window.show()
    finish(qtbot, ui.aclose())
    assert ui.closed and not ui.session.is_open
