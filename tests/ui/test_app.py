"""The window as a whole, the entry point and its self-test."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from app.ui import theme
from app.ui.script import fountain_html, scenes_html
from tests.conftest import REPO

SELF_TEST = "from app.ui.app import run_gui; raise SystemExit(run_gui([], self_test=True))"


def test_the_window_builds_with_every_panel_and_says_what_runs_where(ui, qtbot):
    window = ui.window
    assert window.windowTitle() == "Storyreel"
    assert window.acceptDrops()
    for panel in (window.idea, window.run_view, window.history, window.run_view.gallery):
        assert panel.isVisible()
    assert window.message_bar.isHidden()  # nothing to say yet
    summary = ui.session.services.settings.summary()
    assert window.where.text() == summary
    assert summary.startswith("Writer: draft (offline) · Renderer: draft (offline)")
    assert [a.text() for a in window.menuBar().actions()] == ["&File", "&Edit", "&Run", "&View",
                                                          "&Help"]
    assert window.run_view.title.text() == "Nothing running"
    assert window.run_view.tabs.count() == 3
    image = window.grab()
    assert not image.isNull() and image.width() >= 860


def test_the_stylesheet_has_every_colour_for_both_looks(qapp):
    template = theme.read_template()
    assert "@accent" in template
    for colors in (theme.LIGHT, theme.DARK):
        assert colors.keys() == theme.LIGHT.keys()
        sheet = theme.render(template, {**colors, "icons": "/icons"})
        assert "@" not in sheet.replace("@names", "").replace("@icons is", "")


def test_the_theme_applies_without_qt_warnings(ui, qtbot):
    app = QApplication.instance()
    before = app.styleSheet()
    try:
        theme.apply(app, theme.read_template())
        assert "#3b6fd8" in app.styleSheet() or "#5b8cff" in app.styleSheet()
        assert not ui.window.grab().isNull()
    finally:
        app.setStyleSheet(before)


def test_every_kind_of_field_has_the_same_look_and_height(qapp):
    app = QApplication.instance()
    before = app.styleSheet()
    try:
        theme.apply(app, theme.read_template())
        sheet = app.styleSheet()
        for kind in ("QSpinBox", "QDoubleSpinBox", "QComboBox"):
            assert f"{kind}:focus" in sheet and f"{kind}:disabled" in sheet, kind
        holder = QWidget()
        fields = [QLineEdit(holder), QSpinBox(holder), QDoubleSpinBox(holder),
                  QComboBox(holder)]
        fields[-1].addItem("PDF storyboard")
        for field in fields:
            field.ensurePolished()
        assert len({field.sizeHint().height() for field in fields}) == 1
        holder.deleteLater()
    finally:
        app.setStyleSheet(before)


def test_a_typed_idea_is_queued_in_the_window_s_words(ui, qtbot):
    ui.window.idea.editor.setPlainText("A lighthouse keeper sees a light at sea.")
    ui.window.idea.submit_typed()
    assert ui.window.statusBar().currentMessage() == "Queued the typed idea"
    assert ui.window.where.isHidden()  # the message has the whole bar, not cut short
    ui.window.statusBar().clearMessage()
    assert ui.window.where.isVisible()


def test_fountain_is_typeset_and_nothing_is_lost():
    text = ("Title: The Lamp\nAuthor: Storyreel\n\nEXT. LIGHTHOUSE - NIGHT\n\n"
            "Rain hammers the glass.\n\nMARA\n(quietly)\nNot tonight.\n\nCUT TO:\n\n"
            ">THE END<\n\n[[a note]]\n")
    page = fountain_html(text)
    assert '<h2 align="center">The Lamp</h2>' in page
    assert "<b>EXT. LIGHTHOUSE - NIGHT</b>" in page
    assert "Rain hammers the glass." in page
    assert "MARA" in page and "(quietly)" in page and "Not tonight." in page
    assert '<p align="right">CUT TO:</p>' in page
    assert '<p align="center">THE END</p>' in page
    assert "a note" not in page
    assert "&lt;b&gt;" in fountain_html("<b>not markup</b>")


def test_scenes_list_counts_shots():
    from app.core.models import Scene, Shot, ShotStatus, ShotType

    scene = Scene(index=1, heading="INT. STAIRS - NIGHT", summary="Mara climbs.",
                  characters=["MARA"])
    shots = [Shot(run_id="r", shot_id=f"s01-0{i}", scene=1, index=i, number=f"1{c}",
                  shot_type=ShotType.WIDE, description="d", status=status)
             for i, c, status in ((1, "A", ShotStatus.DONE), (2, "B", ShotStatus.FAILED))]
    page = scenes_html([scene], shots)
    assert "1. INT. STAIRS - NIGHT" in page and "2 shots, 1 done, 1 failed" in page
    assert "MARA" in page and "Mara climbs." in page


def test_self_test_entry_point_runs_a_draft_run_offscreen_and_exits_0(home):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY",
                                                            "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-c", SELF_TEST], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "storyreel self-test: ok" in result.stderr
    assert "3 shots" in result.stderr
    assert os.listdir(home) == []  # the self-test keeps to a scratch folder


def test_logs_go_to_the_logs_folder_from_a_writer_thread(tmp_path):
    import logging

    from app.ui.app import LOG_FILE, start_logging

    stop = start_logging(tmp_path / "logs")
    try:
        logging.getLogger("app.ui.test").error("something to keep: %s", "details")
    finally:
        stop()
    text = (tmp_path / "logs" / LOG_FILE).read_text(encoding="utf-8")
    assert "ERROR app.ui.test: something to keep: details" in text
