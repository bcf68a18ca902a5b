"""Where runs begin: the idea editor with its Generate button, and dropped idea files.

A typed idea is checked at once (pure code). Dropped files are read and
checked in a worker thread with the core's ``ideas.read_many``: every file
must be a usable idea or nothing is queued, and the reason is shown. Web
addresses, folders, images, huge files and binary junk are refused that way.

Beside the Generate button: what a run will cost on RunPod (GPU jobs, GPU
seconds, dollars at the price set), worked out by the core from the history,
again whenever the settings, the number of shots or the history change.
"""

from __future__ import annotations

import asyncio
import re

from PySide6.QtCore import QCoreApplication, QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core import frame, ideas, scenes
from app.core.errors import IdeaError
from app.core.models import RunOptions
from app.ui.costs import estimate_text, estimate_tooltip, offline_text
from app.ui.errors import ErrorPresenter
from app.ui.ops import Ops
from app.ui.session import Session

_WEB = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def accepted() -> str:
    """The kinds of idea file, in words."""
    return QCoreApplication.translate("IdeaPanel", ".txt, .md, .fountain, .fdx or a .json batch")


def dropped_paths(mime: QMimeData) -> list[str] | None:
    """Local file paths carried by a drop, or None when it carries plain text to paste.

    Raises ``IdeaError`` for what can never be an idea: web addresses, empty drops.
    """
    translate = QCoreApplication.translate
    if mime.hasUrls():
        urls = mime.urls()
        for url in urls:
            if not url.isLocalFile():
                shown = url.toDisplayString()
                shown = shown if len(shown) <= 60 else shown[:57] + "…"
                raise IdeaError(translate("IdeaPanel", "%1 is a web address, not a file on this "
                                   "computer; save the idea to a file, or paste its text")
                                .replace("%1", shown))
        if urls:
            return [url.toLocalFile() for url in urls]
    if mime.hasText():
        text = mime.text().strip()
        if _WEB.match(text) and "\n" not in text:
            raise IdeaError(translate("IdeaPanel", "%1 is a web address; paste the idea's text "
                               "instead").replace("%1", text[:60]))
        if text:
            return None
    raise IdeaError(translate("IdeaPanel", "nothing usable was dropped: drop idea files (%1)")
                    .replace("%1", accepted()))


class IdeaEditor(QPlainTextEdit):
    """Plain text only; file drops go to the window (and its checks), not into the text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ideaEditor")
        self.setAcceptDrops(False)
        self.setTabChangesFocus(True)

    def insertFromMimeData(self, source: QMimeData) -> None:
        self.insertPlainText(source.text())


class IdeaPanel(QFrame):
    ideas_submitted = Signal(object, object)  # list[Idea], RunOptions

    def __init__(self, ops: Ops, session: Session, presenter: ErrorPresenter,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ideaPanel")
        self.setProperty("dragging", False)
        self.ops, self.session, self.presenter = ops, session, presenter

        self.editor = IdeaEditor()
        self.editor.setPlaceholderText(self.tr(
            "Describe a story in a few sentences — who, where, what goes wrong…\n"
            "Or drop idea files (%1) anywhere on the window.").replace("%1", accepted()))
        self.editor.setFixedHeight(92)
        self.shots = QSpinBox(objectName="maxShots", minimum=0, maximum=500, value=0)
        self.shots.setSpecialValueText(self.tr("all"))
        self.shots.setToolTip(self.tr("At most this many shots per run"))
        self.shots.setAccelerated(True)
        shots_label = QLabel(self.tr("Shots"), buddy=self.shots)
        self.scenes = QLineEdit(objectName="sceneChoice", placeholderText=self.tr("all"))
        self.scenes.setToolTip(self.tr("Storyboard only these scenes of the script, such as "
                                       "1-12,40; the others stay in the run's script"))
        self.scenes.setFixedWidth(90)
        scenes_label = QLabel(self.tr("Scenes"), buddy=self.scenes)
        self.aspect = QComboBox(objectName="aspectChoice")
        for label in frame.ASPECTS:
            self.aspect.addItem(label, label)
        self.aspect.setCurrentIndex(self.aspect.findData(frame.DEFAULT_ASPECT))
        self.aspect.setToolTip(self.tr("The frame of the storyboard: every panel, the PDF "
                                       "and the animatic follow it (changeable later in the "
                                       "run's header)"))
        aspect_label = QLabel(self.tr("Frame"), buddy=self.aspect)
        self.generate = QPushButton(self.tr("Generate"), objectName="generateButton")
        self.generate.setToolTip(self.tr("Make a storyboard from this idea (Ctrl+Enter)"))
        self.generate.setDefault(True)
        self.queue_label = QLabel(objectName="queueLabel", textFormat=Qt.TextFormat.PlainText)
        self.clear_queue = QPushButton(self.tr("Clear queue"), flat=True)
        self.clear_queue.hide()
        self.estimate = QLabel(objectName="estimateLabel")
        self.estimate.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._estimates = 0  # the newest estimate asked for; older answers are dropped

        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(self.queue_label)
        row.addWidget(self.clear_queue)
        row.addStretch(1)
        row.addWidget(self.estimate)
        row.addSpacing(8)
        row.addWidget(aspect_label)
        row.addWidget(self.aspect)
        row.addSpacing(8)
        row.addWidget(scenes_label)
        row.addWidget(self.scenes)
        row.addSpacing(8)
        row.addWidget(shots_label)
        row.addWidget(self.shots)
        row.addSpacing(8)
        row.addWidget(self.generate)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(8)
        layout.addWidget(self.editor)
        layout.addLayout(row)

        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(self.submit_typed)
        self.generate.clicked.connect(self.submit_typed)
        self.clear_queue.clicked.connect(session.clear_queue)
        session.queue_changed.connect(self._show_queue)
        self._show_queue()
        self._estimate_timer = QTimer(self, singleShot=True, interval=300)
        self._estimate_timer.timeout.connect(self.refresh_estimate)
        self.shots.valueChanged.connect(lambda _n: self._estimate_timer.start())
        self.scenes.textChanged.connect(lambda _t: self._estimate_timer.start())
        self.editor.textChanged.connect(self._estimate_timer.start)  # a screenplay's size
        session.opened.connect(lambda _services: self.refresh_estimate())
        session.services_changed.connect(lambda _services: self.refresh_estimate())
        session.bridge.run_finished.connect(lambda _run: self._estimate_timer.start())
        session.bridge.scenes_planned.connect(self._say_scenes_left_out)
        self.refresh_estimate()

    def options(self) -> RunOptions:
        """The run options set in the bar; ``SceneSpecError`` (an ``IdeaError``) for a
        Scenes field that cannot be read."""
        spec = self.scenes.text().strip()
        return RunOptions(max_shots=self.shots.value() or None,
                          scenes=scenes.parse_spec(spec) if spec else None,
                          aspect=self.aspect.currentData())

    def _say_scenes_left_out(self, run_id: str, planned: tuple, shots: tuple) -> None:
        """No silent limits: when the Scenes field or the shot cap leaves scenes of the
        script without shots, say how many and how to draw them later into the run."""
        drawn = len({shot.scene for shot in shots})
        if drawn >= len(planned):
            return
        self.presenter.notify(
            self.tr("Not every scene is storyboarded"),
            self.tr("Storyboarding %1 of the script's %2 scenes; the other %3 stay in its "
                    "script. To draw them later into this run: storyreel resume %4 "
                    "--scenes N-M").replace("%1", str(drawn)).replace("%2", str(len(planned)))
            .replace("%3", str(len(planned) - drawn)).replace("%4", run_id))

    # Typed ideas.

    def submit_typed(self) -> bool:
        text = self.editor.toPlainText()
        try:
            idea = ideas.from_text(text)
            options = self.options()
        except IdeaError as exc:
            self.presenter.report(self.tr("Nothing was queued"), exc)
            self.editor.setFocus()
            return False
        self.editor.clear()
        self.ideas_submitted.emit([idea], options)
        return True

    # What a run will cost.

    def refresh_estimate(self) -> None:
        """Work out the estimate again (from the history, off the GUI thread's way)."""
        self._estimates += 1
        if not self.session.is_open:  # start-up: once the services are open
            self._show_estimate_text("", "")
            return
        services = self.session.services
        if not services.runs_on_gpu:
            self._show_estimate_text(offline_text(bool(services.settings.writer_base_url)),
                                     self.tr("Nothing in this set-up runs on RunPod, so a run "
                                             "costs no GPU time."))
            return
        ticket = self._estimates
        self.ops.start(self._estimate(services),
                       what=self.tr("Estimating the cost of a run"), parent=self,
                       success=lambda found: self._estimated(ticket, found),
                       failure=lambda exc: self._not_estimated(ticket, exc))

    async def _estimate(self, services):
        """The estimate; for a typed screenplay, of the scenes to storyboard and of the whole
        script (its size worked out offline, in a thread)."""
        max_shots = self.shots.value() or None
        estimate = await services.estimate(max_shots=max_shots)
        try:
            idea = ideas.from_text(self.editor.toPlainText())
            spec = self.scenes.text().strip()
            numbers = scenes.parse_spec(spec) if spec else None
        except IdeaError:  # nothing typed yet, or a Scenes field still being typed
            return estimate
        if idea.kind is not ideas.IdeaKind.FOUNTAIN:
            return estimate  # a writer will make the script: its size is not known yet
        size = await asyncio.to_thread(scenes.script_size, idea)
        return estimate.with_script(size.scenes, size.shots,
                                    scenes.drawn_shots(size, numbers, max_shots))

    def _estimated(self, ticket: int, estimate) -> None:
        if ticket == self._estimates:
            self._show_estimate_text(estimate_text(estimate), estimate_tooltip(estimate))

    def _not_estimated(self, ticket: int, exc: BaseException) -> None:
        if ticket == self._estimates:  # not worth a message: the run itself will say
            self._show_estimate_text(self.tr("Estimate unavailable"), str(exc))

    def _show_estimate_text(self, text: str, tip: str) -> None:
        self.estimate.setText(text)
        self.estimate.setToolTip(tip)
        self.estimate.setVisible(bool(text))

    # Dropped files.

    def set_dragging(self, dragging: bool) -> None:
        if self.property("dragging") != dragging:
            self.setProperty("dragging", dragging)
            self.style().unpolish(self)
            self.style().polish(self)

    def accept_drop(self, mime: QMimeData) -> None:
        """Queue what was dropped, or say why not (reading happens in a worker thread)."""
        self.set_dragging(False)
        try:
            paths = dropped_paths(mime)
        except IdeaError as exc:
            self.presenter.report(self.tr("Nothing was queued"), exc)
            return
        if paths is None:
            self.editor.insertPlainText(mime.text())
            self.editor.setFocus()
            return
        self.open_files(paths)

    def open_files(self, paths: list[str]) -> None:
        try:
            options = self.options()
        except IdeaError as exc:
            self.presenter.report(self.tr("Nothing was queued"), exc)
            return
        self.ops.in_thread(ideas.read_many, paths, what=self.tr("Reading idea files"),
                           parent=self,
                           success=lambda found: self.ideas_submitted.emit(found, options),
                           failure=lambda exc: self.presenter.report(
                               self.tr("Nothing was queued"), exc))

    def _show_queue(self) -> None:
        waiting = len(self.session.queued)
        text = "" if not waiting else (self.tr("1 idea waiting") if waiting == 1 else
                                       self.tr("%1 ideas waiting").replace("%1", str(waiting)))
        self.queue_label.setText(text)
        self.clear_queue.setVisible(bool(waiting))
