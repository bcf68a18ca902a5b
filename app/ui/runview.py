"""The run view: what one run is doing, its storyboard, its script and its scenes.

It shows one run at a time, either live (following the pipeline's events) or
from history exactly as it finished. Progress is the core's own ``Progress``,
fed with the same events the CLI prints. The header says what the run cost on
the GPU, by stage in its tooltip. Once the run has finished, the Scenes tab
edits the cast's looks and the scenes through the session (``bind_session``);
the cards of the shots an edit makes stale say so, and "Regenerate stale
shots" renders only those. The storyboard itself is edited beside its cards
(``app.ui.board_editor``: the shot editor, drags, the context menu and keys) and
in the header (the aspect ratio), every edit a step of the run's undo stack
(``app.ui.undo``); the header also gives the board's running time.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core import events as ev
from app.core import frame, timing
from app.core.models import Run, RunStatus, ShotStatus, Stage
from app.core.progress import Progress
from app.ui.board_editor import BoardControls, ShotEditor
from app.ui.board_filter import BoardFilter
from app.ui.costs import run_cost_text, run_cost_tooltip, run_stage_times
from app.ui.gallery import GalleryView, ShotModel, ShotRole, duration_text
from app.ui.revise import ScenesPage
from app.ui.script import ScriptView, fountain_html
from app.ui.statuses import (
    CANCELLED_REASON,
    date_time_text,
    decimal,
    engine_text,
    run_status_text,
    stage_text,
)
from app.ui.undo import AspectStep, BoardUndo

if TYPE_CHECKING:
    from app.ui.session import Session


class RunView(QWidget):
    cancel_requested = Signal(str)  # run id
    retry_requested = Signal(str)  # run id: render its failed and cancelled shots again
    status_message = Signal(str)  # what a board edit did, for the status bar

    def __init__(self, model: ShotModel, parent: QWidget | None = None, *,
                 session: Session | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.run: Run | None = None
        self.progress = Progress()
        self.live = False
        self.session: Session | None = None
        self._regenerating: str | None = None  # run id, from the press until the run ends

        self.title = QLabel(self.tr("No run yet"), objectName="runTitle",
                            textFormat=Qt.TextFormat.PlainText)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta = QLabel(objectName="runMeta", textFormat=Qt.TextFormat.PlainText)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stage = QLabel(objectName="runStage", textFormat=Qt.TextFormat.PlainText)
        self.bar = QProgressBar(objectName="runProgress", textVisible=False)
        self.bar.setFixedHeight(6)
        self.retry_button = QPushButton(self.tr("Retry failed"))
        self.retry_button.setToolTip(self.tr("Render the failed and cancelled shots again"))
        self.cancel_button = QPushButton(self.tr("Cancel run"), objectName="cancelButton")
        self.cancel_button.setToolTip(self.tr("Stop this run (Ctrl+.)"))
        self.regenerate_stale_action = QAction(self.tr("Regenerate &stale shots"), self)
        self.regenerate_stale_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.regenerate_stale_action.setToolTip(self.tr(
            "Render again only the shots an edit made stale, with their seeds kept; their "
            "current images are kept as earlier versions (Ctrl+Shift+R)"))
        self.regenerate_stale_action.setEnabled(False)
        self.regenerate_stale_action.triggered.connect(self.request_regenerate_stale)
        self.addAction(self.regenerate_stale_action)  # its shortcut works window-wide
        self.stale_button = QPushButton(objectName="staleButton")
        self.stale_button.setToolTip(self.regenerate_stale_action.toolTip())
        self.stale_button.clicked.connect(self.regenerate_stale_action.trigger)
        self.cost = QLabel(objectName="runCost")
        self.cost.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.gallery = GalleryView(model)
        self.aspect_choice = QComboBox(objectName="runAspect")
        for label in frame.ASPECTS:
            self.aspect_choice.addItem(label, label)
        self.aspect_choice.setToolTip(self.tr("The frame of this board; changing it makes "
                                              "every shot stale"))
        self.aspect_choice.activated.connect(self._aspect_chosen)
        self.aspect_label = QLabel(self.tr("Frame"), buddy=self.aspect_choice)
        self.running_time = QLabel(objectName="runDuration")
        self.running_time.setToolTip(self.tr("The board's running time: every shot's "
                                             "duration, summed"))
        self.undo = BoardUndo(self)
        self.undo.lookup = model.shot
        self.undo.applied.connect(self._board_edited)
        self.undo.refused.connect(self._refused)
        self.editor = ShotEditor()
        self.board = QSplitter(objectName="boardPage")
        self.board.addWidget(self.gallery)
        self.board.addWidget(self.editor)
        self.board.setStretchFactor(0, 1)
        self.board.setChildrenCollapsible(False)
        self.editor.hide()
        self.controls = BoardControls(self.gallery, self.editor, self.undo, self)
        self.gallery.selectionModel().currentChanged.connect(self._selection_changed)
        self.editor.closed.connect(self._close_editor)
        self.editor.draw_requested.connect(self._draw_now)
        model.dataChanged.connect(self._shot_data_changed)
        self.script = ScriptView(self.tr("The script appears here once it is written."))
        self.scenes = ScenesPage(self.tr("The scenes appear here once they are planned."))
        self.scenes.look_applied.connect(self.apply_look)
        self.scenes.scene_applied.connect(self.apply_scene)
        self.tabs = QTabWidget(objectName="runTabs")
        self.tabs.setDocumentMode(True)
        self.board_filter = BoardFilter(self.gallery)
        page = QWidget(objectName="board")  # the filter bar above the gallery and editor
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.setSpacing(0)
        page_layout.addWidget(self.board_filter)
        page_layout.addWidget(self.board, 1)
        self.tabs.addTab(page, self.tr("Storyboard"))
        self.tabs.addTab(self.script, self.tr("Script"))
        self.tabs.addTab(self.scenes, self.tr("Scenes"))

        heading = QHBoxLayout()
        words = QVBoxLayout()
        words.setSpacing(2)
        words.addWidget(self.title)
        words.addWidget(self.meta)
        heading.addLayout(words, 1)
        heading.addWidget(self.aspect_label, 0, Qt.AlignmentFlag.AlignVCenter)
        heading.addWidget(self.aspect_choice, 0, Qt.AlignmentFlag.AlignVCenter)
        heading.addWidget(self.stale_button, 0, Qt.AlignmentFlag.AlignVCenter)
        heading.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignVCenter)
        heading.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignVCenter)
        status = QHBoxLayout()
        status.addWidget(self.stage, 1)
        status.addWidget(self.bar, 1)
        status.addWidget(self.running_time, 0)
        status.addSpacing(12)
        status.addWidget(self.cost, 0)
        header = QWidget(objectName="runHeader")
        header_layout = QVBoxLayout(header)
        header_layout.setContentsMargins(16, 12, 16, 10)
        header_layout.setSpacing(8)
        header_layout.addLayout(heading)
        header_layout.addLayout(status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.tabs, 1)

        self._scenes_stale = False
        self._board_edits, self._timed = 0, None  # when the running time was last summed
        self._editable: bool | None = None
        self.tabs.currentChanged.connect(self._tab_changed)
        self._scenes_timer = QTimer(self, singleShot=True, interval=250)
        self._scenes_timer.timeout.connect(self._render_scenes)
        # Shots land by the hundred: redraw the header at most ten times a second.
        self._refresh_timer = QTimer(self, singleShot=True, interval=100)
        self._refresh_timer.timeout.connect(self._refresh)
        self.cancel_button.clicked.connect(self.request_cancel)
        self.retry_button.clicked.connect(self.request_retry)
        self.clear()
        if session is not None:
            self.bind_session(session)

    def bind_session(self, session: Session) -> None:
        """Act on runs through ``session``: edits, regenerating stale shots; its settings
        give the price of a GPU second. Once; without it the view only shows."""
        if self.session is session:
            return
        self.session = session
        self.undo.bind(session)
        session.services_changed.connect(lambda _services: self._refresh())
        self._update_buttons()

    @property
    def run_id(self) -> str | None:
        return self.run.run_id if self.run else None

    # Showing a run.

    def clear(self) -> None:
        self.run, self.live, self.progress = None, False, Progress()
        self.model.clear()
        self.title.setText(self.tr("Nothing running"))
        self.meta.setText(self.tr("Start a storyboard from an idea, or open one from history."))
        self.stage.setText("")
        self.cost.setText("")
        self.cost.setToolTip("")
        self.running_time.setText("")
        self.undo.show_run(None)
        self._close_editor()
        self.bar.hide()
        self.script.show_html("")
        self.scenes.show_run(None, [])
        self._update_buttons()

    def show_run(self, run: Run, *, live: bool) -> None:
        """Show ``run``: from history as it is stored, or live from its start event."""
        self.run, self.live = run.model_copy(deep=True), live
        self.progress = Progress()
        self.progress.update(ev.RunStarted(run.run_id, run))
        self.progress.stage = run.stage
        self.progress.failed = run.shots_failed or sum(
            1 for s in run.shots if s.status is ShotStatus.FAILED)
        aspect = run.width / run.height if run.height else 16 / 9
        self.board_filter.set_headings({s.index: s.heading for s in run.scenes})
        self.model.set_shots(run.run_id, run.shots, aspect=aspect)
        self._board_edits += 1
        self.undo.show_run(run.run_id)
        self._close_editor()
        if run.status.finished and not live:
            self._settle_unfinished_shots()
        self.gallery._fit()
        self.script.show_html(fountain_html(run.script.screenplay) if run.script else "")
        self._render_scenes()
        self._refresh()

    def set_live(self, live: bool) -> None:
        self.live = live
        self._update_buttons()

    # Editing a finished run (the Scenes tab), through the session.

    def apply_look(self, name: str, look: str) -> None:
        if self.session is None or self.run is None:
            return
        run_id = self.run.run_id
        self.session.edit_character(
            run_id, name, look, parent=self,
            success=lambda result: self._edited(run_id, result, look=name),
            failure=lambda exc: self._refused(
                self.tr("The look of %1 was not changed").replace("%1", name.title()), exc))

    def apply_scene(self, index: int, heading: str | None, summary: str | None) -> None:
        if self.session is None or self.run is None:
            return
        run_id = self.run.run_id
        self.session.edit_scene(
            run_id, index, heading=heading, summary=summary, parent=self,
            success=lambda result: self._edited(run_id, result, scene=index),
            failure=lambda exc: self._refused(
                self.tr("Scene %1 was not changed").replace("%1", str(index)), exc))

    def _edited(self, run_id: str, result: tuple[Run, list[str]], *, look: str | None = None,
                scene: int | None = None) -> None:
        run, stale = result
        if self.run is None or self.run.run_id != run_id:
            return  # another run is on show now; its cards have nothing to change
        self.run.script, self.run.scenes = run.script, run.scenes
        for shot_id in stale:  # the events said it already; the run's word is the last
            self.model.update_shot(run.shot(shot_id), live=False)
        n = len(stale)
        text = (self.tr("Saved. No shot's image depends on it: nothing to render.") if not n
                else self.tr("Saved. 1 shot is now stale: “Regenerate stale shots” "
                             "(Ctrl+Shift+R) renders it again.") if n == 1
                else self.tr("Saved. %1 shots are now stale: “Regenerate stale shots” "
                             "(Ctrl+Shift+R) renders them again.").replace("%1", str(n)))
        self._render_scenes()
        self.scenes.note(look=look, scene=scene, text=text)
        self._refresh()

    # Editing the board (the Storyboard tab and the header): steps of the undo stack.

    def _board_edited(self, edit, text: str) -> None:
        """A board edit saved (or undone, or redone): the cards as the core returned them."""
        run = edit.run
        if self.run is None or self.run.run_id != run.run_id:
            return  # another run is on show now
        self.run = run.model_copy(deep=True)
        self._board_edits += 1
        self.model.set_shots(run.run_id, run.shots, aspect=frame.ratio(run.aspect))
        self.gallery._fit()
        if edit.shot_id is not None:
            self.controls.select(edit.shot_id)
        stale = len(edit.stale or [])
        if stale:
            text += "  ·  " + (self.tr("1 shot is now stale") if stale == 1 else
                               self.tr("%1 shots are now stale").replace("%1", str(stale)))
        self.status_message.emit(text)
        self._render_scenes()
        self._refresh()

    def _aspect_chosen(self, _row: int) -> None:
        run, aspect = self.run, self.aspect_choice.currentData()
        if run is None or aspect == run.aspect or not self.controls.editable:
            self._show_aspect()
            return
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Change the frame to %1?").replace(
            "%1", aspect), self.tr("Every shot goes stale: “Regenerate stale shots” draws them "
                                   "again at %1. Undo (Ctrl+Z) goes back to %2.").replace(
            "%1", aspect).replace("%2", run.aspect), QMessageBox.StandardButton.NoButton, self)
        change = box.addButton(self.tr("Change the frame"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.tr("Keep %1").replace("%1", run.aspect),
                      QMessageBox.ButtonRole.RejectRole)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: self._change_aspect(
            run.run_id, aspect, run.aspect) if button is change else self._show_aspect())
        box.open()  # never exec(): a nested loop under qasync stalls the tasks
        self.aspect_box = box

    def _change_aspect(self, run_id: str, aspect: str, old: str) -> None:
        if not self.undo.perform(AspectStep(run_id, self.tr("Frame %1").replace(
                "%1", aspect), aspect, old)):
            self._show_aspect()

    def _show_aspect(self) -> None:
        aspect = self.run.aspect if self.run is not None else frame.DEFAULT_ASPECT
        self.aspect_choice.setCurrentIndex(max(0, self.aspect_choice.findData(aspect)))

    def _selection_changed(self, current, _previous) -> None:
        shot = current.data(ShotRole) if current.isValid() else None
        self.editor.show_shot(shot)
        self.editor.setVisible(shot is not None)

    def _draw_now(self, shot_id: str) -> None:
        """A new shot drawn at once (the run renders it; the card follows the events)."""
        if self.session is not None and self.run is not None and self.controls.editable:
            self.session.regenerate(self.run.run_id, shot_id)

    def _close_editor(self) -> None:
        self.gallery.clearSelection()
        self.gallery.setCurrentIndex(self.model.index(-1))
        self.editor.show_shot(None)
        self.editor.hide()

    def _shot_data_changed(self, top, bottom, _roles=()) -> None:
        """A newer state of the shot in the editor (it went stale, it was redrawn)."""
        shot = self.editor.shot
        if shot is None or not self.editor.isVisible():
            return
        row = self.model.row_of(shot.shot_id)
        if row is not None and top.row() <= row <= bottom.row():
            newer = self.model.shot(shot.shot_id)
            if newer is not shot:
                self.editor.show_shot(newer)

    def _refused(self, title: str, exc: BaseException) -> None:
        if self.session is not None:
            self.session.ops.presenter.report(title, exc)

    def stale_count(self) -> int:
        return sum(1 for s in self.model.shots if s.stale)

    def request_regenerate_stale(self) -> None:
        """Render the stale shots of the run on show (once per press, not while it runs)."""
        run = self.run
        if (self.session is None or run is None or self.live or self._regenerating
                or not self.stale_count()):
            return
        self._regenerating = run.run_id
        self._update_buttons()
        task = self.session.regenerate_stale(run.run_id)
        task.add_done_callback(self._regenerated)

    def _regenerated(self, _task: asyncio.Task) -> None:
        if shiboken6.isValid(self):
            self._regenerating = None
            self._update_buttons()

    # Following events (connected to the bridge's ``event`` signal).

    def on_event(self, event: ev.Event) -> None:
        if self.run is None or event.run_id != self.run.run_id:
            return
        self.progress.update(event)
        run = self.run
        match event:
            case ev.RunStarted(run=started):
                self.show_run(started, live=True)
                return
            case ev.StageStarted(stage=stage):
                run.stage = stage
            case ev.ScriptWritten(script=script):
                run.script, run.title = script, script.title
                self.script.show_html(fountain_html(script.screenplay))
            case ev.ScenesPlanned(scenes=scenes, shots=shots):
                run.scenes = list(scenes)
                run.shots = list(shots)
                self.board_filter.set_headings({s.index: s.heading for s in scenes})
                self.model.set_shots(run.run_id, shots, aspect=self.model.aspect)
                self._render_scenes()
            case ev.ShotStarted(shot=shot):
                self.model.shot_started(shot)
                self._refresh_soon()
                return
            case ev.ShotRetrying(shot=shot) | ev.ShotFinished(shot=shot):
                self.model.update_shot(shot)
                if not self._scenes_timer.isActive():
                    self._scenes_timer.start()
                self._refresh_soon()
                return
            case ev.RunFinished(run=finished):
                self._settle_unfinished_shots()
                self.run = finished.model_copy(update={"shots": self.model.shots})
                self.live = False
                self._render_scenes()
        self._refresh()

    def _settle_unfinished_shots(self) -> None:
        """Once a run has ended none of its shots is still working, whatever the last word
        on it was: the core does not always announce (or store) shots cut off by a cancel."""
        for shot in self.model.shots:
            if not shot.status.finished:
                self.model.update_shot(shot.model_copy(update={
                    "status": ShotStatus.CANCELLED, "error": shot.error or CANCELLED_REASON}),
                    live=False)

    # Drawing.

    def _refresh_soon(self) -> None:
        if not self._refresh_timer.isActive():
            # the header sums every shot's times (2-3 ms at 2000 shots): a feature's board
            # redraws it four times a second, not ten (measured with benchmarks/ui.py --why)
            self._refresh_timer.setInterval(100 if self.model.rowCount() < 500 else 250)
            self._refresh_timer.start()

    def _refresh(self) -> None:
        run = self.run
        if run is None:
            return
        self.title.setText(run.title or self.tr("Writing a title…"))
        parts = [run.source or self.tr("typed idea")]
        if self.progress.total:
            parts.append(self.tr("%1 shots in %2 scenes").replace("%1", str(self.progress.total))
                         .replace("%2", str(self.progress.scenes)))
        parts.append(date_time_text(run.created_at))
        if run.writer or run.renderer:
            parts.append(f"{engine_text(run.writer)} → {engine_text(run.renderer)}")
        self.meta.setText("  ·  ".join(parts))
        self.stage.setText(self._stage_text(run))
        times = run_stage_times(run, self.model.shots)
        price = self.session.settings.price_per_gpu_s if self.session is not None else None
        self.cost.setText(run_cost_text(times, price))
        self.cost.setToolTip(run_cost_tooltip(times))
        # The total again only when the board changed (not on every tick of a live run).
        timed = (run.run_id, self._board_edits, self.model.rowCount())
        if timed != self._timed:
            self._timed, shots = timed, self.model.shots
            self.running_time.setText(self.tr("Running time %1").replace(
                "%1", duration_text(timing.board_duration(shots))) if shots else "")
        total = max(1, self.progress.total)
        finished = self.progress.done + self.progress.failed + self.progress.cancelled
        busy = self.live and self.progress.stage is not Stage.RENDERING_SHOTS
        top = 0 if busy else total  # 0: a busy bar while writing or planning
        if self.bar.maximum() != top:
            self.bar.setRange(0, top)
        value = 0 if busy else (min(finished, total) if self.live else total)
        if self.bar.value() != value:
            self.bar.setValue(value)  # repaints at once: hence at most ten times a second
        self.bar.setVisible(self.live)
        self._update_buttons()

    def _stage_text(self, run: Run) -> str:
        if self.live:
            text = stage_text(self.progress)
            return text[:1].upper() + text[1:] + "…" if self.progress.stage is not Stage.DONE \
                else text
        status = run_status_text(run.status)
        text = self.tr("Finished: %1").replace("%1", status) if run.status.finished else \
            self.tr("Interrupted: not running in this window")
        done = sum(1 for s in self.model.shots if s.status is ShotStatus.DONE)
        text += self.tr(" · %1/%2 shots").replace("%1", str(done)).replace(
            "%2", str(len(self.model.shots)))
        if run.wall_seconds:
            text += self.tr(" in %1 s").replace("%1", decimal(run.wall_seconds))
        if run.error and run.status is not RunStatus.COMPLETED and run.error != CANCELLED_REASON:
            text += f" · {run.error}"  # the core's reason, as it wrote it (English)
        return text

    def _render_scenes(self) -> None:
        """The Scenes tab's editors, built only while the tab is shown: a plan of dozens of
        scenes arrives in one event, and building their editors then would stall the
        cards' first paint. A hidden tab is brought up to date when it is opened."""
        if self.run is None:
            return
        self.tabs.setTabText(2, self.tr("Scenes (%1)").replace("%1", str(len(self.run.scenes)))
                             if self.run.scenes else self.tr("Scenes"))
        self._scenes_stale = self.tabs.currentWidget() is not self.scenes
        if not self._scenes_stale:
            self.scenes.show_run(self.run, self.model.shots)

    def _tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.scenes and self._scenes_stale:
            self._render_scenes()

    def _update_buttons(self) -> None:
        self.cancel_button.setVisible(self.live)
        retryable = (not self.live and self.run is not None and any(
            s.status in (ShotStatus.FAILED, ShotStatus.CANCELLED) for s in self.model.shots))
        self.retry_button.setVisible(retryable)
        stale = self.stale_count() if self.session is not None else 0
        can_regenerate = bool(stale) and not self.live and self.run is not None
        self.stale_button.setText(self.tr("Regenerate stale shots (%1)").replace(
            "%1", str(stale)))
        self.stale_button.setVisible(can_regenerate)
        self.stale_button.setEnabled(not self._regenerating)
        self.regenerate_stale_action.setEnabled(can_regenerate and not self._regenerating)
        editable = self.session is not None and self.run is not None and not self.live
        if (self.run_id, editable) != (self.controls.run_id, self._editable):
            self._editable = editable
            self.controls.set_run(self.run_id, editable)
            self.editor.set_editable(editable, "" if editable or self.run is None else self.tr(
                "This run is still working: change its shots once it has finished."))
            self.aspect_choice.setEnabled(editable)
            self.aspect_choice.setVisible(self.run is not None)
            self.aspect_label.setVisible(self.run is not None)
        if self.run is not None and self.aspect_choice.currentData() != self.run.aspect:
            self._show_aspect()
        self.scenes.set_editable(editable, "" if editable or self.run is None else self.tr(
            "This run is still working: change its looks and scenes once it has finished."))

    def request_cancel(self) -> None:
        if self.run is not None and self.live:
            self.cancel_button.setEnabled(False)
            self.cancel_button.setText(self.tr("Cancelling…"))
            self.cancel_requested.emit(self.run.run_id)

    def reset_cancel(self) -> None:
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText(self.tr("Cancel run"))

    def request_retry(self) -> None:
        if self.run is not None:
            self.retry_requested.emit(self.run.run_id)
