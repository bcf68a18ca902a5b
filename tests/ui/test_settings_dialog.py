"""The settings dialog: every variable, secrets masked, saved to STORYREEL_HOME/.env,
checked before saving, tested part by part, applied without a restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dotenv import dotenv_values
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit

from app.core.settings import SECRET_VARIABLES, VARIABLES
from app.ui import translations
from app.ui.settings_dialog import PAGES
from tests.ui.conftest import WAIT_MS


def open_dialog(ui, qtbot):
    dialog = ui.window.open_settings()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=WAIT_MS)
    return dialog


def save(dialog):
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()


def test_every_variable_has_a_field_and_secrets_are_masked(ui, qtbot, home):
    env = Path(home) / ".env"
    env.write_text("# mine\nRUNPOD_API_KEY=rp-secret-123\nOTHER=kept\n", encoding="utf-8")
    dialog = open_dialog(ui, qtbot)
    assert sorted(dialog.fields) == sorted(VARIABLES)
    assert sorted(n for _, _, names in PAGES for n in names) == sorted(VARIABLES)
    for name in SECRET_VARIABLES:
        assert dialog.fields[name].echoMode() is QLineEdit.EchoMode.Password, name
    key = dialog.fields["RUNPOD_API_KEY"]
    assert key.text() == "rp-secret-123"
    assert "rp-secret-123" not in key.displayText()
    eye = key.actions()[0]
    eye.trigger()
    assert key.echoMode() is QLineEdit.EchoMode.Normal
    eye.trigger()
    assert key.echoMode() is QLineEdit.EchoMode.Password
    assert dialog.fields["STORYREEL_HOME"].isReadOnly()
    assert dialog.fields["STORYREEL_HOME"].text() == home
    dialog.reject()


def test_saving_writes_the_env_file_keeps_other_lines_and_applies_at_once(ui, qtbot, home):
    env = Path(home) / ".env"
    env.write_text("# mine\nOTHER=kept\n", encoding="utf-8")
    assert ui.session.pipeline.concurrency == 8
    dialog = open_dialog(ui, qtbot)
    dialog.fields["STORYREEL_CONCURRENCY"].setText("3")
    dialog.fields["MONGODB_DB"].setText("reels")
    changed = []
    ui.session.services_changed.connect(changed.append)
    save(dialog)
    qtbot.waitUntil(lambda: len(changed) == 1, timeout=WAIT_MS)
    values = dotenv_values(env)
    assert values == {"OTHER": "kept", "STORYREEL_CONCURRENCY": "3", "MONGODB_DB": "reels"}
    assert env.read_text(encoding="utf-8").startswith("# mine\nOTHER=kept\n")
    assert ui.session.services.settings.concurrency == 3  # no restart
    assert ui.session.pipeline.concurrency == 3
    assert ui.window.where.text() == ui.session.services.settings.summary()


def test_an_invalid_value_is_explained_and_nothing_is_written(ui, qtbot, home):
    env = Path(home) / ".env"
    dialog = open_dialog(ui, qtbot)
    dialog.fields["MONGODB_URI"].setText("http://not-mongo.example")
    save(dialog)
    assert not dialog.error.isHidden()
    assert "MONGODB_URI must start with mongodb://" in dialog.error.text()
    assert "not-mongo" not in dialog.error.text()  # the value of a secret is never shown
    assert not env.exists()
    assert dialog.isVisible()
    dialog.reject()


def test_a_key_over_plain_http_to_another_host_is_refused_before_saving(ui, qtbot, home):
    dialog = open_dialog(ui, qtbot)
    dialog.fields["WRITER_BASE_URL"].setText("http://gpu.lan:8000/v1")
    dialog.fields["WRITER_MODEL"].setText("qwen")
    dialog.fields["WRITER_API_KEY"].setText("sk-never-shown")
    save(dialog)
    assert dialog.error.text().startswith("WRITER_BASE_URL is plain http:// to another computer")
    assert "sk-never-shown" not in dialog.error.text()
    assert not (Path(home) / ".env").exists()
    dialog.reject()


def test_a_variable_set_in_the_environment_is_shown_read_only(ui, qtbot, monkeypatch):
    monkeypatch.setitem(os.environ, "STORYREEL_MAX_ATTEMPTS", "5")
    dialog = open_dialog(ui, qtbot)
    field = dialog.fields["STORYREEL_MAX_ATTEMPTS"]
    assert field.isReadOnly() and field.text() == "5"
    assert "environment" in field.toolTip()
    assert "STORYREEL_MAX_ATTEMPTS" not in dialog.file_values()
    dialog.reject()


def test_each_part_has_a_test_button_that_reports_without_blocking(ui, qtbot):
    dialog = open_dialog(ui, qtbot)
    assert sorted(dialog.tests) == ["history", "renderer", "storage", "writer"]
    for part in dialog.tests:
        dialog.tests[part].click()
        assert dialog.results[part].text().startswith("Testing")  # answered later, not now
    for part in dialog.tests:
        qtbot.waitUntil(lambda p=part: dialog.results[p].text().startswith(("✓", "✗")),
                        timeout=WAIT_MS)
        assert dialog.results[part].text().startswith("✓"), dialog.results[part].text()
        assert dialog.tests[part].isEnabled()
    assert "wrote, read and deleted a probe object" in dialog.results["storage"].text()
    assert "run" in dialog.results["history"].text()
    dialog.reject()


def test_a_test_with_invalid_values_says_why(ui, qtbot):
    dialog = open_dialog(ui, qtbot)
    dialog.fields["RUNPOD_SHOT_ENDPOINT"].setText("abc123")  # without RUNPOD_API_KEY
    dialog.tests["renderer"].click()
    qtbot.waitUntil(lambda: dialog.results["renderer"].text().startswith("✗"), timeout=WAIT_MS)
    assert "RUNPOD_API_KEY" in dialog.results["renderer"].text()
    dialog.reject()


def test_a_cloud_part_that_cannot_be_reached_reports_a_reason_not_a_crash(ui, qtbot):
    dialog = open_dialog(ui, qtbot)
    dialog.fields["RUNPOD_API_KEY"].setText("rp-test-key")
    dialog.fields["RUNPOD_ENDPOINT_BASE_URL"].setText("http://127.0.0.1:9/v2")  # nothing there
    dialog.fields["RUNPOD_SHOT_ENDPOINT"].setText("shots-endpoint")
    dialog.tests["renderer"].click()
    qtbot.waitUntil(lambda: dialog.results["renderer"].text().startswith(("✓", "✗")),
                    timeout=WAIT_MS)
    text = dialog.results["renderer"].text()
    assert text.startswith("✗") and len(text) > 10
    assert "rp-test-key" not in text
    assert not any(m.bug for m in ui.presenter.messages)
    dialog.reject()


@pytest.fixture
def french(qapp):
    installed = translations.install(qapp, QLocale("fr_FR"))
    yield installed
    translations.uninstall(qapp, installed)


def test_a_test_says_what_it_checks_in_the_window_s_language(french, ui, qtbot):
    dialog = open_dialog(ui, qtbot)
    for name, value in (("R2_ENDPOINT_URL", "http://127.0.0.1:9"), ("R2_ACCESS_KEY_ID", "k"),
                        ("R2_SECRET_ACCESS_KEY", "s"), ("R2_BUCKET", "reels")):
        dialog.fields[name].setText(value)
    dialog.tests["storage"].click()
    assert dialog.results["storage"].text() == "Test de compartiment R2 reels…"
    dialog.tests["writer"].click()  # embedded: its short name
    assert dialog.results["writer"].text() == "Test de rédacteur brouillon, hors ligne…"
    qtbot.waitUntil(lambda: dialog.results["writer"].text().startswith(("✓", "✗")),
                    timeout=WAIT_MS)
    assert dialog.results["writer"].text().startswith("✓ rédacteur brouillon, hors ligne : ")
    dialog.reject()
