"""The window speaks French when asked: every string is translatable, translated, compiled."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QDialogButtonBox

from app.core.models import Shot, ShotStatus, ShotType
from app.ui import translations
from app.ui.statuses import shot_status_text
from tests.conftest import REPO

UI = REPO / "app" / "ui"
TS = translations.ts_path("fr")
QM = translations.qm_path("fr")


def messages(ts: Path) -> list[tuple[str, str, ET.Element]]:
    root = ET.parse(ts).getroot()
    return [(context.findtext("name"), message.findtext("source"), message.find("translation"))
            for context in root.iter("context") for message in context.iter("message")]


def test_every_message_of_the_french_catalogue_is_translated():
    found = messages(TS)
    assert len(found) > 150
    untranslated = [(c, s) for c, s, t in found
                    if t.get("type") in ("unfinished", "obsolete", "vanished") or not t.text]
    assert untranslated == []
    for _context, source, translation in found:  # placeholders survive translation
        assert sorted(re.findall(r"%\d", source)) == sorted(re.findall(r"%\d", translation.text))


def test_the_catalogue_has_every_string_of_the_sources(tmp_path):
    """lupdate over app/ui/*.py adds nothing to a copy of the .ts: it is up to date."""
    copy = tmp_path / TS.name
    shutil.copy(TS, copy)
    subprocess.run([translations.tool("pyside6-lupdate"), "-no-obsolete", "-locations", "none",
                    *translations.sources(), "-ts", str(copy)], check=True, capture_output=True)
    assert {(c, s) for c, s, _ in messages(copy)} == {(c, s) for c, s, _ in messages(TS)}


def test_the_compiled_catalogue_is_up_to_date_with_its_source(tmp_path):
    fresh = translations.release("fr", tmp_path / QM.name)
    assert QM.read_bytes() == fresh.read_bytes(), \
        "run: python -m app.ui.translations --release"


def test_english_needs_no_catalogue(qapp):
    assert translations.install(qapp, QLocale("en_GB")) == []


def test_the_language_can_be_forced_for_testing(monkeypatch):
    monkeypatch.setenv("STORYREEL_LANG", "fr")
    assert translations.ui_locale().language() == QLocale.Language.French
    monkeypatch.delenv("STORYREEL_LANG")
    assert translations.ui_locale().name() == QLocale.system().name()


@pytest.fixture
def french(qapp):
    installed = translations.install(qapp, QLocale("fr_FR"))
    yield installed
    translations.uninstall(qapp, installed)


def test_a_window_started_in_french_speaks_french(french, make_ui):
    assert len(french) == 2  # Qt's own words and ours
    window = make_ui().window
    assert window.idea.generate.text() == "Générer"
    assert [a.text() for a in window.menuBar().actions()] == [
        "&Fichier", "&Génération", "&Affichage", "Ai&de"]
    file_menu = window.menuBar().actions()[0].menu()
    assert "&Paramètres…" in [a.text() for a in file_menu.actions()]
    assert window.run_view.title.text() == "Aucune génération en cours"
    assert window.run_view.tabs.tabText(1) == "Scénario"
    # Qt's own buttons come from qtbase_fr.qm
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    assert box.button(QDialogButtonBox.StandardButton.Cancel).text() == "Annuler"
    box.deleteLater()


def test_card_status_words_are_translated(french):
    shot = Shot(run_id="r", shot_id="s01-01", scene=1, index=1, number="1A",
                shot_type=ShotType.WIDE, description="d", status=ShotStatus.DONE)
    assert shot_status_text(shot, None) == "terminé"
    failed = shot.model_copy(update={"status": ShotStatus.FAILED, "error": "CUDA"})
    assert shot_status_text(failed, None) == "échec : CUDA"
    rendering = shot.model_copy(update={"status": ShotStatus.RENDERING})
    assert shot_status_text(rendering, 12.0) == "rendu en cours · 12 s"


# Calls whose string arguments a person reads.
SHOWN = {"setText", "setWindowTitle", "showMessage", "addAction", "addMenu", "addTab",
         "setTabText", "setToolTip", "setPlaceholderText", "setSpecialValueText", "addButton",
         "addRow", "report", "notify", "QLabel", "QPushButton", "QAction", "QMessageBox",
         "QListWidgetItem", "QToolButton", "QCheckBox", "Action", "IdeaError", "drawText"}
TEXT_KEYWORDS = {"text", "placeholderText", "toolTip", "windowTitle", "title"}


def literal_words(node: ast.AST) -> list[str]:
    """String literals inside ``node`` that a person would read, outside any call
    (``tr("…")`` and ``translate(ctx, "…")`` are calls, so what they wrap is fine)."""
    if isinstance(node, ast.Call):
        return []
    if isinstance(node, ast.JoinedStr):  # f"…": its literal parts, the values as gaps
        value = "".join(part.value if isinstance(part, ast.Constant) else "{}"
                        for part in node.values)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        value = node.value
    else:
        return [w for child in ast.iter_child_nodes(node) for w in literal_words(child)]
    text = re.sub(r"<[^>]*>|%\d", " ", value)  # markup and placeholders are not words
    return [value] if re.search(r"[A-Za-z]{2,}", text) else []


def untranslated(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in SHOWN:
            continue
        args = [*node.args, *(k.value for k in node.keywords if k.arg in TEXT_KEYWORDS)]
        found += [f"{path.name}:{node.lineno}: {name}({w!r})"
                  for arg in args for w in literal_words(arg)]
    return found


def test_no_user_visible_literal_escapes_tr():
    # Not shown to people in the window: the self-test's report (stderr) and the
    # screenshot script's sample ideas (data typed into the window).
    skip = {"selftest.py", "screenshots.py"}
    problems = [p for path in sorted(UI.glob("*.py")) if path.name not in skip
                for p in untranslated(path)]
    assert problems == []


def test_the_scan_finds_what_it_is_meant_to_find(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('label.setText("Hello there")\nQPushButton(f"Go {n}")\n'
                      'box.setText(self.tr("Fine"))\nQLabel(objectName="fineName")\n'
                      'bar.showMessage("✓ " + self.tr("ok"))\n', encoding="utf-8")
    assert [p.split(": ", 1)[1] for p in untranslated(sample)] == [
        "setText('Hello there')", "QPushButton('Go {}')"]

