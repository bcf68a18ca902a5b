"""The window speaks French when asked: every string is translatable, translated, compiled."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale, Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.core.errors import ConfigError, RenderError
from app.core.models import Run, RunStatus, Shot, ShotStatus, ShotType
from app.core.settings import parse
from app.ui import statuses, translations
from app.ui.statuses import shot_status_text, shot_type_text, where_text
from tests.conftest import REPO
from tests.ui.conftest import finish

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
    installed = translations.install(qapp, QLocale("en_GB"))
    try:
        assert installed == []
        assert QLocale().name() == "en_GB"  # dates and numbers follow the language
    finally:
        translations.uninstall(qapp, installed)
    assert QLocale().name() == QLocale.system().name()


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
        "&Fichier", "Édi&tion", "&Génération", "&Affichage", "Ai&de"]
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


CLOUD = {"RUNPOD_API_KEY": "rp-key", "RUNPOD_WRITER_ENDPOINT": "writer-1",
         "RUNPOD_SHOT_ENDPOINT": "shots-1", "R2_ENDPOINT_URL": "http://127.0.0.1:9000",
         "R2_ACCESS_KEY_ID": "id", "R2_SECRET_ACCESS_KEY": "secret", "R2_BUCKET": "reels",
         "MONGODB_URI": "mongodb://user:pw@db.example:27017/x", "MONGODB_DB": "boards"}
OPENAI = {"WRITER_BASE_URL": "http://127.0.0.1:11434/v1", "WRITER_MODEL": "llama3"}


@pytest.mark.parametrize("values", [{}, CLOUD, OPENAI], ids=["embedded", "cloud", "openai"])
def test_in_english_the_status_bar_says_what_the_core_says(values, tmp_path):
    settings = parse(values, home=tmp_path)
    assert where_text(settings) == settings.summary()
    assert statuses.where_lines(settings) == [str(p) for p in settings.parts()]


def test_the_parts_and_shot_types_are_translated(french, tmp_path):
    settings = parse({}, home=tmp_path)
    assert where_text(settings) == (
        f"Rédaction : brouillon (hors ligne) · Rendu : brouillon (hors ligne) · "
        f"Stockage : dossier local {tmp_path / 'blobs'} · "
        f"Historique : base intégrée ({tmp_path / 'db'})")
    cloud = parse({**CLOUD, **OPENAI}, home=tmp_path)
    assert where_text(cloud) == (
        "Rédaction : RunPod vLLM writer-1 · Rendu : RunPod shots-1 · "
        "Stockage : compartiment R2 reels · Historique : MongoDB db.example:27017 / boards")
    assert "secret" not in where_text(cloud) and "pw" not in where_text(cloud)
    openai = parse(OPENAI, home=tmp_path)
    assert statuses.where_lines(openai)[0] == "Rédaction : compatible OpenAI llama3 sur " \
                                               "127.0.0.1:11434"
    assert shot_type_text(ShotType.CLOSE_UP) == "gros plan"
    assert shot_type_text(ShotType.WIDE) == "plan d’ensemble"
    english = {t.label for t in ShotType}
    assert not {shot_type_text(t) for t in ShotType if t is not ShotType.INSERT} & english
    assert statuses.engine_text("draft (offline)") == "brouillon (hors ligne)"
    assert statuses.engine_text("RunPod shots-1") == "RunPod shots-1"


def test_a_french_window_shows_the_core_words_in_french(french, make_ui, qtbot):
    ui = make_ui()
    window = ui.window
    assert window.where.text().startswith("Rédaction : brouillon (hors ligne) · Rendu : ")
    assert "Storage" not in window.where.toolTip()
    home = ui.session.settings.home
    finish(qtbot, ui.session.reopen(parse({"STORYREEL_CONCURRENCY": "3"}, home=home)))
    assert window.where.text() == where_text(ui.session.settings)  # still French once changed

    created = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
    shot = Shot(run_id="r1", shot_id="s01-01", scene=1, index=1, number="1A",
                shot_type=ShotType.CLOSE_UP, camera="handheld", description="Mara at the lamp",
                status=ShotStatus.FAILED, error="RunPod job j-1 failed: CUDA out of memory")
    run = Run(run_id="r1", idea="A lighthouse.", title="The Lamp", status=RunStatus.PARTIAL,
              created_at=created, writer="draft (offline)", renderer="RunPod shots-1",
              shots=[shot], error="every shot failed; first error: CUDA out of memory")
    view = window.run_view
    view.show_run(run, live=False)
    meta = view.meta.text()
    assert "27 novembre 2026" in meta and "November" not in meta  # the locale's month names
    assert "brouillon (hors ligne) → RunPod shots-1" in meta
    model = view.model
    tip = model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("1A · gros plan · handheld\nMara at the lamp")
    assert "échec : RunPod job j-1 failed: CUDA out of memory" in tip  # the reason stays
    dialog = window.open_shot(shot)
    assert dialog.heading.text() == "1A  ·  gros plan  ·  handheld"
    dialog.close()

    # A core error keeps its (English) reason, framed by what to do, in French.
    message = ui.presenter.report("Échec de l’ouverture", ConfigError("R2_BUCKET must be ..."))
    assert message.hint == "Corrigez-le dans Fichier › Paramètres."
    assert window.message_bar.text.text() == "R2_BUCKET must be ...\n" + message.hint
    render = ui.presenter.report("Échec", RenderError("RunPod job j-2 failed"))
    assert render.hint.startswith("Relancez le plan")
    window.message_bar.dismiss()
    window.message_bar.dismiss()


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

