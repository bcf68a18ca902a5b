"""The settings dialog: every variable of the configuration contract, saved to the .env.

Values come from (and go to) ``STORYREEL_HOME/.env``; a variable set in the
process environment wins over the file, so its field is shown read-only with
that reason. Secrets are masked (an eye button shows them). Saving checks the
values with the core's own ``settings.parse`` first, writes the file
atomically (``app.core.envfile``) in a worker thread, and tells the window,
which reopens its services: no restart needed. Each part has a Test button
that runs the core's live check (``doctor.check_all``) without blocking.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core import envfile
from app.core.errors import ConfigError
from app.core.settings import SECRET_VARIABLES, VARIABLES, Settings, parse
from app.ui import statuses
from app.ui.ops import Ops

if TYPE_CHECKING:
    from app.core.services import Services

# Tab, the part its Test button checks, and the variables it holds. Words are marked for
# lupdate here (QT_TRANSLATE_NOOP) and translated where shown (self.tr, same context).
PAGES: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    (QT_TRANSLATE_NOOP("SettingsDialog", "Writer"), "writer",
     ("RUNPOD_WRITER_ENDPOINT", "WRITER_BASE_URL", "WRITER_API_KEY", "WRITER_MODEL")),
    (QT_TRANSLATE_NOOP("SettingsDialog", "Renderer"), "renderer",
     ("RUNPOD_API_KEY", "RUNPOD_ENDPOINT_BASE_URL", "RUNPOD_SHOT_ENDPOINT",
      "STORYREEL_PRICE_PER_GPU_SECOND")),
    (QT_TRANSLATE_NOOP("SettingsDialog", "Storage"), "storage",
     ("R2_ENDPOINT_URL", "R2_ACCOUNT_ID", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY",
      "R2_BUCKET")),
    (QT_TRANSLATE_NOOP("SettingsDialog", "History"), "history", ("MONGODB_URI", "MONGODB_DB")),
    (QT_TRANSLATE_NOOP("SettingsDialog", "General"), None,
     ("STORYREEL_HOME", "STORYREEL_CONCURRENCY", "STORYREEL_MAX_ATTEMPTS")),
)

HINTS = {
    "RUNPOD_WRITER_ENDPOINT": QT_TRANSLATE_NOOP(
        "SettingsDialog", "endpoint id of a RunPod vLLM worker (uses the RunPod key)"),
    "WRITER_BASE_URL": QT_TRANSLATE_NOOP(
        "SettingsDialog", "any OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1"),
    "WRITER_MODEL": QT_TRANSLATE_NOOP("SettingsDialog", "model name on that server"),
    "RUNPOD_API_KEY": QT_TRANSLATE_NOOP("SettingsDialog", "also used by a RunPod writer"),
    "RUNPOD_ENDPOINT_BASE_URL": "https://api.runpod.ai/v2",
    "RUNPOD_SHOT_ENDPOINT": QT_TRANSLATE_NOOP(
        "SettingsDialog", "endpoint id running the Storyreel shot worker"),
    "R2_ENDPOINT_URL": "https://<account>.r2.cloudflarestorage.com",
    "R2_ACCOUNT_ID": QT_TRANSLATE_NOOP("SettingsDialog", "instead of the endpoint URL"),
    "MONGODB_URI": QT_TRANSLATE_NOOP("SettingsDialog", "mongodb+srv://… (empty: embedded store)"),
    "MONGODB_DB": "storyreel",
    "STORYREEL_CONCURRENCY": QT_TRANSLATE_NOOP("SettingsDialog", "shots rendered at once (8)"),
    "STORYREEL_MAX_ATTEMPTS": QT_TRANSLATE_NOOP("SettingsDialog", "attempts per shot (3)"),
    "STORYREEL_PRICE_PER_GPU_SECOND": QT_TRANSLATE_NOOP(
        "SettingsDialog", "US dollars per GPU second, for cost estimates, e.g. 0.00044"),
}
EMBEDDED = {
    "writer": QT_TRANSLATE_NOOP("SettingsDialog", "draft writer, offline"),
    "renderer": QT_TRANSLATE_NOOP("SettingsDialog", "draft renderer, offline"),
    "storage": QT_TRANSLATE_NOOP("SettingsDialog", "local folder"),
    "history": QT_TRANSLATE_NOOP("SettingsDialog", "embedded store"),
}

Opener = Callable[[Settings], Awaitable["Services"]]


class SettingsDialog(QDialog):
    saved = Signal(object)  # the new Settings

    def __init__(self, settings: Settings, services: Callable[[], Services], opener: Opener,
                 ops: Ops, *, environ: dict[str, str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle(self.tr("Settings"))
        self.settings, self.ops = settings, ops
        self._services, self._opener = services, opener
        self.environ = dict(os.environ if environ is None else environ)
        self.env_path = settings.home / ".env"
        self.fields: dict[str, QLineEdit] = {}
        self.results: dict[str, QLabel] = {}
        self.tests: dict[str, QPushButton] = {}
        self.loaded = False
        self._checking: tuple[Settings, asyncio.Task] | None = None  # shared by the buttons

        intro = QLabel(self.tr("Leave a field empty to use the embedded default. Saved to "
                               "%1; changes apply at once.").replace("%1", str(self.env_path)),
                       wordWrap=True, objectName="dialogIntro")
        self.tabs = QTabWidget()
        for title, part, names in PAGES:
            self.tabs.addTab(self._page(part, names), self.tr(title))
        self.error = QLabel(wordWrap=True, objectName="formError",
                            textFormat=Qt.TextFormat.PlainText)
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
        self.resize(640, 440)
        self.ops.in_thread(envfile.read_values, self.env_path, what=self.tr("Reading settings"),
                           parent=self, success=self._fill, failure=self._show_error)

    def _page(self, part: str | None, names: tuple[str, ...]) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for name in names:
            field = QLineEdit(objectName=name)
            field.setPlaceholderText(self.tr(HINTS[name]) if name in HINTS else "")
            if name in SECRET_VARIABLES:
                field.setEchoMode(QLineEdit.EchoMode.Password)
                eye = QAction(self.tr("Show"), field)
                eye.setCheckable(True)
                eye.setToolTip(self.tr("Show or hide the value"))
                eye.toggled.connect(lambda on, f=field: f.setEchoMode(
                    QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password))
                field.addAction(eye, QLineEdit.ActionPosition.TrailingPosition)
                eye.setText("👁")
            if name == "STORYREEL_HOME":
                field.setReadOnly(True)
                field.setText(str(self.settings.home))
                field.setToolTip(self.tr("The data folder is chosen with the STORYREEL_HOME "
                                         "environment variable, before the app starts"))
            elif name in self.environ:
                field.setReadOnly(True)
                field.setToolTip(self.tr("Set in the environment, which wins over this file"))
            self.fields[name] = field
            form.addRow(name, field)
        if part is not None:
            button = QPushButton(self.tr("Test"), objectName=f"test_{part}")
            result = QLabel(wordWrap=True, objectName=f"result_{part}",
                            textFormat=Qt.TextFormat.PlainText)
            result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            button.clicked.connect(lambda _=False, p=part: self.test(p))
            row = QHBoxLayout()
            row.addWidget(button)
            row.addWidget(result, 1)
            form.addRow("", row)
            self.tests[part], self.results[part] = button, result
        return page

    def _fill(self, values: dict[str, str]) -> None:
        for name, field in self.fields.items():
            if name == "STORYREEL_HOME":
                continue
            if name in self.environ:
                field.setText(self.environ[name])
            else:
                field.setText(values.get(name, ""))
        self.loaded = True
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)

    # The values as they would be used.

    def file_values(self) -> dict[str, str]:
        """What the fields would save to the file (read-only ones are not the file's)."""
        return {name: field.text().strip() for name, field in self.fields.items()
                if not field.isReadOnly()}

    def effective_settings(self) -> Settings:
        """Settings as the app would read them with these fields saved. Raises ConfigError."""
        values = {**self.file_values(), **{k: v for k, v in self.environ.items()
                                           if k in VARIABLES}}
        values.pop("STORYREEL_HOME", None)
        return parse(values, home=self.settings.home,
                     sources=("environment", str(self.env_path)))

    # Saving.

    def save(self) -> None:
        try:
            settings = self.effective_settings()
        except ConfigError as exc:
            self._show_error(exc)
            return
        self.error.hide()
        self.buttons.setEnabled(False)
        self.ops.in_thread(envfile.update, self.env_path, self.file_values(),
                           what=self.tr("Saving settings"), parent=self,
                           success=lambda _none: self._saved(settings),
                           failure=self._save_failed)

    def _saved(self, settings: Settings) -> None:
        self.saved.emit(settings)
        self.accept()

    def _save_failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self._show_error(exc)

    def _show_error(self, exc: BaseException) -> None:
        self.error.setText(str(exc))
        self.error.show()

    # Testing one part.

    def test(self, part: str) -> None:
        result, button = self.results[part], self.tests[part]
        try:
            settings = self.effective_settings()
        except ConfigError as exc:
            self._result(part, False, str(exc))
            return
        result.setText(self.tr("Testing %1…").replace("%1", self._how(part, settings)))
        result.setProperty("ok", None)
        button.setEnabled(False)
        self.ops.start(self._check(settings, part), what=self.tr("Testing: %1").replace(
                           "%1", self.tr(next(t for t, p, _ in PAGES if p == part))), parent=self,
                       success=lambda outcome, p=part: self._result(p, *outcome),
                       failure=lambda exc, p=part: self._result(p, False, str(exc)))

    async def _check(self, settings: Settings, part: str) -> tuple[bool, str]:
        # One live check of every part at a time: Test buttons pressed together share it
        # (the checks write the same probe object; run side by side they trip each other).
        if self._checking is None or self._checking[0] != settings or self._checking[1].done():
            task = asyncio.get_running_loop().create_task(self._check_all(settings))
            self._checking = (settings, task)
        checks = await asyncio.shield(self._checking[1])
        check = next(c for c in checks if c["name"] == part)
        return bool(check["ok"]), self.tr("%1: %2", "what was tested, then its answer").replace(
            "%1", self._how(part, settings)).replace("%2", check["message"])

    def _how(self, part: str, settings: Settings) -> str:
        """How ``part`` runs with ``settings``, in the window's words: the cloud service
        ("R2 bucket reels"), or a short name of the embedded one."""
        found = next(p for p in settings.parts() if p.name == part)
        if found.mode == "cloud":
            return statuses.part_detail(found, settings)
        return self.tr(EMBEDDED[part])

    async def _check_all(self, settings: Settings) -> list[dict]:
        from app.core.doctor import check_all  # opens services: not needed for the first paint

        current = self._services()  # None while the app is still opening its own
        if current is not None and settings == current.settings:  # test what the app runs with
            return await check_all(current)
        services = await self._opener(settings)  # the values typed here, on their own
        try:
            return await check_all(services)
        finally:
            await services.aclose()

    def _result(self, part: str, ok: bool, message: str) -> None:
        self.tests[part].setEnabled(True)
        label = self.results[part]
        label.setText(("✓ " if ok else "✗ ") + message)
        label.setProperty("ok", ok)
        label.style().unpolish(label)
        label.style().polish(label)


