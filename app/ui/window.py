"""The main window: lays out the panels and connects them. Nothing else.

History on the left; on the right the message bar, the idea panel and the run
view (storyboard, script, scenes, with an Export… button beside the tabs); the
status bar says what runs where. Every piece of work goes through the session
or ``Ops``; every problem through the error presenter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSize, QStandardPaths, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QFileOpenEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core import ownership
from app.core.events import RunTakenOver
from app.core.ideas import SUFFIXES, Idea
from app.core.models import Run, RunOptions, RunStatus, Shot
from app.core.settings import Settings
from app.ui.detail import ShotDetailDialog
from app.ui.errors import Action, ErrorPresenter, MessageBar
from app.ui.gallery import ShotModel
from app.ui.history import HistoryPanel
from app.ui.idea import IdeaPanel
from app.ui.ops import Ops
from app.ui.runview import RunView
from app.ui.session import Session
from app.ui.settings_dialog import SettingsDialog
from app.ui.statuses import run_status_text, where_lines, where_text
from app.ui.thumbnails import ThumbnailLoader

if TYPE_CHECKING:  # imported on first use: the exporters cost ~0.2 s at start-up
    from app.ui.export_dialog import ExportDialog


class MainWindow(QMainWindow):
    close_requested = Signal()  # the person wants to quit and the runs are dealt with
    first_painted = Signal()  # once, when the window has painted for the first time

    def __init__(self, session: Session, ops: Ops, presenter: ErrorPresenter,
                 thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._deleted: set[str] = set()
        self.session, self.ops, self.presenter = session, ops, presenter
        self.setWindowTitle(self.tr("Storyreel"))
        self.setAcceptDrops(True)
        self.resize(1320, 860)
        self.setMinimumSize(QSize(860, 560))
        self.follow = True  # show each new run as it starts, until a run is opened by hand
        self.details: list[ShotDetailDialog] = []
        self.exports: list[ExportDialog] = []  # open export dialogs, one per run
        self.export_folder = default_export_folder()
        self.allow_close = False
        self._painted = False

        self.message_bar = MessageBar()
        self.idea = IdeaPanel(ops, session, presenter)
        self.run_view = RunView(ShotModel(thumbnails, self), session=session)
        self.history = HistoryPanel(ops, session, thumbnails, presenter)
        work = QWidget()
        column = QVBoxLayout(work)
        column.setContentsMargins(14, 14, 14, 0)
        column.setSpacing(10)
        column.addWidget(self.message_bar)
        column.addWidget(self.idea)
        column.addWidget(self.run_view, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.history)
        self.splitter.addWidget(work)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 1020])
        self.splitter.setHandleWidth(1)
        self.setCentralWidget(self.splitter)
        # What runs where, on the right. A normal (not permanent) widget: a message such as
        # "Queued …" takes the whole bar while it shows, rather than being cut short by this
        # long line (longer still in French); the line comes back when the message goes.
        self.where = QLabel(objectName="whereLabel",
                            alignment=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                            textFormat=Qt.TextFormat.PlainText)
        self.statusBar().addWidget(self.where, 1)
        self.statusBar().setSizeGripEnabled(False)
        self._menus()
        self._show_where(session.settings)
        presenter.attach(self.message_bar)
        if not session.is_open:  # start-up: the window comes first, the services right after
            self.statusBar().showMessage(self.tr("Starting: opening the history and storage…"))
            session.opened.connect(self._opened_services)

        bridge = session.bridge
        bridge.event.connect(self.run_view.on_event)
        bridge.run_started.connect(self._run_started)
        bridge.run_finished.connect(self._run_finished)
        bridge.event.connect(self._taken_over)
        bridge.shot_started.connect(self._shot_changed)
        bridge.shot_finished.connect(self._shot_changed)
        self.idea.ideas_submitted.connect(self.queue_ideas)
        self.run_view.cancel_requested.connect(session.cancel)
        self.run_view.retry_requested.connect(lambda run_id: session.retry(run_id))
        self.run_view.status_message.connect(lambda text: self.statusBar().showMessage(text,
                                                                                       6000))
        self.run_view.gallery.shot_activated.connect(self.open_shot)
        self.history.run_opened.connect(self.open_run)
        self.history.run_deleted.connect(self._run_deleted)
        session.services_changed.connect(lambda services: self._show_where(services.settings))
        session.active_changed.connect(self._active_changed)

    def _menus(self) -> None:
        def action(menu, text: str, slot, keys=None) -> QAction:
            act = QAction(text, self)
            if keys is not None:
                act.setShortcuts(keys if isinstance(keys, list) else [QKeySequence(keys)])
            act.triggered.connect(slot)
            menu.addAction(act)
            return act

        bar = self.menuBar()
        file = bar.addMenu(self.tr("&File"))
        action(file, self.tr("&New idea"), self.new_idea, QKeySequence.StandardKey.New)
        action(file, self.tr("&Open idea files…"), self.choose_files, QKeySequence.StandardKey.Open)
        file.addSeparator()
        self.export_action = action(file, self.tr("&Export…"), self.export_shown_run, "Ctrl+E")
        self.export_action.setToolTip(self.tr("Export the run on show as a PDF storyboard, a "
                                              "screenplay, images, an animatic or a timeline "
                                              "(Ctrl+E)"))
        self.export_action.setEnabled(False)
        file.addSeparator()
        action(file, self.tr("&Settings…"), self.open_settings, "Ctrl+,")
        file.addSeparator()
        action(file, self.tr("&Quit"), self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu(self.tr("&Edit"))
        edit.setToolTipsVisible(True)
        edit.addAction(self.run_view.undo.undo_action)  # Ctrl+Z: the board edits, by name
        edit.addAction(self.run_view.undo.redo_action)  # Ctrl+Shift+Z
        run = bar.addMenu(self.tr("&Run"))
        action(run, self.tr("&Generate (Ctrl+Enter)"), self.idea.submit_typed)
        action(run, self.tr("&Cancel run"), self.cancel_shown_run, "Ctrl+.")
        action(run, self.tr("&Retry failed shots"), self.run_view.request_retry, "Ctrl+R")
        run.addAction(self.run_view.regenerate_stale_action)  # Ctrl+Shift+R
        action(run, self.tr("Resume &interrupted runs"), self.offer_resume)
        view = bar.addMenu(self.tr("&View"))
        toggle = action(view, self.tr("&History"), self.history.setVisible, "Ctrl+H")
        toggle.setCheckable(True)
        toggle.setChecked(True)
        view.addSeparator()
        for n, name in enumerate((self.tr("&Storyboard"), self.tr("S&cript"),
                                  self.tr("Sc&enes")), 1):
            action(view, name, lambda _=False, i=n - 1: self.run_view.tabs.setCurrentIndex(i),
                   f"Ctrl+{n}")
        help_menu = bar.addMenu(self.tr("&Help"))
        action(help_menu, self.tr("&About Storyreel"), self._about)
        # Beside the run's tabs, where the storyboard is: the same action as a button.
        self.export_button = QPushButton(self.tr("Export…"), objectName="exportButton",
                                         flat=True)
        self.export_button.setToolTip(self.export_action.toolTip())
        self.export_button.clicked.connect(self.export_action.trigger)
        self.export_action.enabledChanged.connect(self.export_button.setEnabled)
        self.export_button.setEnabled(self.export_action.isEnabled())
        self.run_view.tabs.setCornerWidget(self.export_button, Qt.Corner.TopRightCorner)

    def _opened_services(self, services) -> None:
        self._show_where(services.settings)
        self.statusBar().showMessage(self.tr("Ready"), 3000)

    # Starting runs.

    def new_idea(self) -> None:
        self.idea.editor.setFocus()

    def queue_ideas(self, ideas: list[Idea], options: RunOptions) -> None:
        self.follow = True
        queued = self.session.enqueue(ideas, options)
        if queued:
            n = len(queued)
            if n > 1:
                text = self.tr("Queued %1 run(s)").replace("%1", str(n))
            elif ideas[0].source:  # a file's name
                text = self.tr("Queued “%1”").replace("%1", ideas[0].source)
            else:  # typed (the core's label would be its English "typed idea")
                text = self.tr("Queued the typed idea")
            self.statusBar().showMessage(text, 4000)

    def queue_paths(self, paths: list[str]) -> None:
        """Idea files given on the command line or opened with the app: same checks as drops."""
        if paths:
            self.idea.open_files(paths)

    def choose_files(self) -> None:
        dialog = QFileDialog(self, self.tr("Open idea files"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilter(self.tr("Ideas (%1)").replace(
            "%1", " ".join(f"*{s}" for s in SUFFIXES)))
        dialog.filesSelected.connect(self.idea.open_files)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    # Drops anywhere on the window.

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasText():
            event.acceptProposedAction()
            self.idea.set_dragging(True)

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self.idea.set_dragging(False)

    def dropEvent(self, event: QDropEvent) -> None:
        event.acceptProposedAction()
        self.follow = True
        self.idea.accept_drop(event.mimeData())

    # Showing runs and shots.

    def open_run(self, run_id: str) -> None:
        self.follow = False
        self.ops.start(self.session.services.history.get_run(run_id),
                       what=self.tr("Opening a run"), parent=self, success=self._opened)

    def _opened(self, run: Run) -> None:
        if run.run_id in self._deleted:  # deleted while it was being loaded
            return
        self.run_view.show_run(run, live=self.session.is_active(run.run_id))
        self._update_export()

    def _run_started(self, run: Run) -> None:
        if self.follow or self.run_view.run is None or self.run_view.run_id == run.run_id:
            self.run_view.show_run(run, live=True)
        self._update_export()

    def _run_finished(self, run: Run) -> None:
        title = run.title or run.source or run.run_id
        text = self.tr("“%1” %2: %3/%4 shots").replace("%1", title).replace(
            "%2", run_status_text(run.status)).replace("%3", str(run.shots_done)).replace(
            "%4", str(run.shot_count))
        self.statusBar().showMessage(text, 8000)
        if run.status is RunStatus.FAILED:
            self.presenter.report(self.tr("“%1” failed").replace("%1", title),
                                  run.error or self.tr("no shot could be made"))
        if not self.isActiveWindow():
            QApplication.alert(self)

    def _run_deleted(self, run_id: str) -> None:
        self._deleted.add(run_id)
        self.run_view.undo.forget(run_id)
        if self.run_view.run_id == run_id:
            self.run_view.clear()
        for dialog in list(self.exports):
            if dialog.run.run_id == run_id and not dialog.busy:
                dialog.close()
        self._update_export()

    def open_shot(self, shot: Shot) -> ShotDetailDialog:
        dialog = ShotDetailDialog(shot, self.ops, lambda: self.session.services,
                                  run_active=self.session.is_active(shot.run_id), parent=self)
        dialog.retry_requested.connect(lambda run_id, shot_id: self.session.retry(
            run_id, [shot_id]))
        dialog.regenerate_requested.connect(
            lambda run_id, shot_id, seed, prompt: self.session.regenerate(
                run_id, shot_id, seed=seed, prompt=prompt))
        dialog.pick_requested.connect(
            lambda run_id, shot_id, attempt: self.session.pick_version(run_id, shot_id, attempt))
        dialog.destroyed.connect(lambda _=None, d=dialog: self._forget_detail(d))
        self.details.append(dialog)
        dialog.show()
        return dialog

    def _forget_detail(self, dialog: ShotDetailDialog) -> None:
        if dialog in self.details:
            self.details.remove(dialog)

    def _shot_changed(self, shot: Shot) -> None:
        for dialog in self.details:
            dialog.update_shot(shot)

    def _active_changed(self) -> None:
        for dialog in self.details:
            dialog.set_run_active(self.session.is_active(dialog.shot.run_id))
        if self.run_view.run_id is not None:
            live = self.session.is_active(self.run_view.run_id)
            if not live:
                self.run_view.reset_cancel()
            self.run_view.set_live(live)
        self._update_export()

    def cancel_shown_run(self) -> None:
        if self.run_view.run_id and self.session.is_active(self.run_view.run_id):
            self.run_view.request_cancel()

    # Exporting the run on show.

    def _exportable(self) -> Run | None:
        run = self.run_view.run
        if run is None or not self.session.is_open or self.session.is_active(run.run_id):
            return None
        return run

    def _update_export(self) -> None:
        self.export_action.setEnabled(self._exportable() is not None)

    def export_shown_run(self) -> ExportDialog | None:
        """Open the export dialog for the run on show (one dialog per run); not while the
        run is still working."""
        run = self._exportable()
        if run is None:
            self.statusBar().showMessage(
                self.tr("Open a finished run to export it") if self.run_view.run is None else
                self.tr("The run is still working: export it once it has finished"), 5000)
            return None
        for dialog in self.exports:
            if dialog.run.run_id == run.run_id:
                dialog.raise_()
                dialog.activateWindow()
                return dialog
        from app.ui.export_dialog import ExportDialog  # the exporters load on first use

        dialog = ExportDialog(run, self.ops, lambda: self.session.services, self.presenter,
                              folder=self.export_folder, parent=self)
        dialog.exported.connect(self._exported)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _=None, d=dialog: self._forget_export(d))
        self.exports.append(dialog)
        dialog.show()  # not modal: the window stays usable while a long export runs
        return dialog

    def _forget_export(self, dialog: ExportDialog) -> None:
        if dialog in self.exports:
            self.exports.remove(dialog)

    def _exported(self, path: Path) -> None:
        self.export_folder = path.parent
        self.statusBar().showMessage(self.tr("Exported to %1").replace("%1", str(path)), 8000)

    # Interrupted runs, settings, about.

    def offer_resume(self) -> None:
        if not self.session.is_open:  # offered anyway once they are (Ui.start)
            return
        self.ops.start(self.session.services.history.find_unfinished(),
                       what=self.tr("Looking for interrupted runs"), parent=self,
                       success=self._offer)

    def _offer(self, runs: list[Run]) -> None:
        runs = [r for r in runs if not self.session.is_active(r.run_id)]
        # Runs another window or machine is rendering (its heartbeat is fresh) are its own.
        runs, busy = ownership.split_unfinished(runs, self.session.pipeline.leases.identity,
                                                ownership.now_ms())
        if busy:
            self.statusBar().showMessage(
                self.tr("%1 unfinished run(s) are being rendered by another window or computer;"
                        " they are left alone").replace("%1", str(len(busy))), 10000)
        if not runs:
            return
        names = ", ".join(f"“{r.title or r.run_id}”" for r in runs[:3])
        more = self.tr(" and %1 more").replace("%1", str(len(runs) - 3)) if len(runs) > 3 else ""
        ids = [r.run_id for r in runs]
        self.presenter.notify(
            self.tr("%1 interrupted run(s)").replace("%1", str(len(runs))),
            self.tr("%1%2 did not finish last time. Resume renders only the missing shots.")
            .replace("%1", names).replace("%2", more),
            actions=(Action(self.tr("Resume"), lambda: self._resume(ids)),))

    def _taken_over(self, event: object) -> None:
        """A resumed run whose owner had stopped: say from whom it was taken over."""
        if isinstance(event, RunTakenOver):
            self.statusBar().showMessage(event.message, 10000)

    def _resume(self, run_ids: list[str]) -> None:
        self.follow = True
        self.session.resume(run_ids)

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.session.settings, lambda: self.session.services,
                                self.session.opener, self.ops, parent=self)
        dialog.saved.connect(self._settings_saved)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _settings_saved(self, settings: Settings) -> None:
        self.ops.start(self.session.reopen(settings), what=self.tr("Applying the settings"),
                       parent=self, success=lambda _services: self.statusBar().showMessage(
                           self.tr("Settings applied"), 4000))

    def _show_where(self, settings: Settings) -> None:
        """What runs where, in the window's language (the core's ``summary()`` is English)."""
        self.where.setText(where_text(settings))
        self.where.setToolTip("\n".join(where_lines(settings)))

    def _about(self) -> None:
        from app import __version__

        box = QMessageBox(QMessageBox.Icon.Information, self.tr("About Storyreel"), self.tr(
            "<b>Storyreel %1</b><br>From an idea to a storyboard: script, scenes, shots and "
            "an image for every shot.").replace("%1", __version__),
            QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # never exec(): a nested loop under qasync stalls the tasks

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()

    # Closing.

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.allow_close:
            event.accept()
            return
        event.ignore()
        self.request_close()

    def request_close(self) -> QMessageBox | None:
        """Quit, asking first when runs or exports are in flight (without blocking the loop).
        Quitting cancels a running export (it writes nothing), so the question says so."""
        active = self.session.active_runs
        exporting = [d for d in self.exports if d.busy]
        if not active and not exporting:
            self.close_requested.emit()
            return None
        stop_exports = self.tr("Quitting now cancels %1 running export(s); nothing is "
                               "written for them.").replace("%1", str(len(exporting)))
        if active:
            title = self.tr("Runs in progress")
            text = self.tr(
                "%1 run(s) are still working. Keep their cloud jobs running and resume them "
                "next time (nothing is paid twice), or cancel them now (the shots already "
                "made are kept).").replace("%1", str(len(active)))
            if exporting:
                text += "\n\n" + stop_exports
        else:
            title = self.tr("Export in progress")
            text = stop_exports
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.NoButton, self)
        keep = box.addButton(self.tr("Quit, resume later"),
                             QMessageBox.ButtonRole.AcceptRole) if active else None
        cancel = box.addButton(self.tr("Cancel runs and quit") if active else
                               self.tr("Cancel export and quit"),
                               QMessageBox.ButtonRole.DestructiveRole)
        stay = box.addButton(self.tr("Keep working"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(stay if keep is None else keep)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: self._close_answer(
            "keep" if button is keep else "cancel" if button is cancel else None))
        box.open()
        return box

    def _close_answer(self, choice: str | None) -> None:
        if choice is not None:
            self.session.keep_runs_on_close = choice == "keep"
            self.close_requested.emit()


def default_export_folder() -> Path:
    """Where exports go until the person picks another folder: Documents, else home."""
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(documents) if documents else Path.home()


class FileOpenEvents(QObject):
    """macOS hands files opened with the app (Finder's "Open With", a drop on the Dock
    icon) to the application as QFileOpenEvent, not as arguments: queue them like drops.
    Parented to the window, so it goes away with it."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = event.file()
            if path:
                self._window.queue_paths([path])
                return True
        return super().eventFilter(watched, event)
