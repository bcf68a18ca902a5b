"""Shaping the board in the window: the shot editor beside the gallery, and the gallery's
own board actions (drag a card, the context menu, the keys).

The editor shows the selected shot's fields (description, framing, camera move,
dialogue, characters, duration, note); Apply (or Ctrl+S) sends the changed ones
as one step. The actions add a shot after the selected one (Insert, Ctrl+N in
the gallery), duplicate it (Ctrl+D), delete it (Delete: asks first only when an
image would go with it) or move it to another scene; a card dragged onto
another moves there (onto a card of another scene: into that scene, there).
Every edit is a step of the run's undo stack (``app.ui.undo``): nothing here
saves or changes the cards itself; the core's answer reloads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core import timing
from app.core.board import FROM_DIALOGUE  # set_shot(duration_s=...): by its dialogue again
from app.core.models import Shot, ShotType
from app.ui.gallery import (
    STALE_COLOR,
    GalleryView,
    ShotModel,
    ShotRole,
    duration_text,
    stale_reason_text,
)
from app.ui.statuses import shot_type_text
from app.ui.undo import (
    AddStep,
    BoardUndo,
    DeleteStep,
    DuplicateStep,
    MoveStep,
    Place,
    SetStep,
    place_of,
)

if TYPE_CHECKING:
    from app.ui.session import Session

CAMERA_MOVES = ("static", "pan left", "pan right", "tilt up", "tilt down", "dolly in",
                "dolly out", "tracking", "handheld", "crane up", "crane down", "zoom in",
                "zoom out")


def _lines(field: QPlainTextEdit, lines: int) -> QPlainTextEdit:
    field.setTabChangesFocus(True)
    height = field.fontMetrics().lineSpacing() * lines
    field.setFixedHeight(round(height + 2 * field.document().documentMargin() + 8))
    return field


def _names(text: str) -> list[str]:
    """Characters typed as ``MARA, TOM`` (the core spells them as the cast does)."""
    names: list[str] = []
    for part in text.split(","):
        name = " ".join(part.split())
        if name and name.casefold() not in [n.casefold() for n in names]:
            names.append(name)
    return names


class ShotEditor(QFrame):
    """The fields of one shot. ``applied(shot_id, fields)`` gives the changed fields (the
    names ``Board.set_shot`` takes); the editor saves nothing itself."""

    applied = Signal(str, dict)
    draw_requested = Signal(str)  # shot id: a shot with no image yet, drawn now
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shotEditor")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(280)
        self.setMaximumWidth(380)
        self.shot: Shot | None = None
        self.title = QLabel(objectName="shotEditorTitle", textFormat=Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.close_button = QPushButton(self.tr("Close"), flat=True)
        self.close_button.setToolTip(self.tr("Hide the shot editor (select a card to open "
                                             "it again)"))
        self.close_button.clicked.connect(self.closed.emit)
        self.stale = QLabel(objectName="shotEditorStale", wordWrap=True,
                            textFormat=Qt.TextFormat.PlainText)
        self.stale.setStyleSheet(f"color: {STALE_COLOR}")
        self.description = _lines(QPlainTextEdit(objectName="shotDescription"), 4)
        self.framing = QComboBox(objectName="shotFraming")
        for shot_type in ShotType:
            self.framing.addItem(f"{shot_type_text(shot_type)} ({shot_type.value})",
                                 shot_type.value)
        self.camera = QComboBox(objectName="shotCamera", editable=True)
        self.camera.addItems(CAMERA_MOVES)
        self.camera.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.dialogue = _lines(QPlainTextEdit(objectName="shotDialogue"), 3)
        self.characters = QLineEdit(objectName="shotCharacters")
        self.characters.setPlaceholderText(self.tr("names, separated by commas"))
        self.duration = QDoubleSpinBox(objectName="shotDuration", decimals=1,
                                       minimum=0.0, maximum=timing.MAX_S, singleStep=0.5)
        self.duration.setSuffix(self.tr(" s"))
        self.duration.setToolTip(self.tr("How long the shot is held in the animatic and the "
                                         "timeline; at the lowest value, the time its "
                                         "dialogue takes"))
        self.note = QLineEdit(objectName="shotNote")
        self.note.setPlaceholderText(self.tr("for you: never drawn"))
        self.apply_button = QPushButton(self.tr("Apply"), objectName="shotApply")
        self.apply_button.setToolTip(self.tr("Save these fields as one step (Ctrl+S); a "
                                             "change to what the picture shows makes the shot "
                                             "stale"))
        self.draw_button = QPushButton(self.tr("Draw now"), objectName="shotDraw")
        self.draw_button.setToolTip(self.tr("Draw this new shot now, rather than with the "
                                            "next “Regenerate stale shots”"))
        self.draw_button.clicked.connect(
            lambda: self.shot is not None and self.draw_requested.emit(self.shot.shot_id))
        self.revert_button = QPushButton(self.tr("Revert"), flat=True)
        self.revert_button.setToolTip(self.tr("Show the shot's saved fields again"))
        self.why = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.close_button)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(self.tr("Description"), self.description)
        form.addRow(self.tr("Framing"), self.framing)
        form.addRow(self.tr("Camera"), self.camera)
        form.addRow(self.tr("Dialogue"), self.dialogue)
        form.addRow(self.tr("Characters"), self.characters)
        form.addRow(self.tr("Duration"), self.duration)
        form.addRow(self.tr("Note"), self.note)
        buttons = QHBoxLayout()
        buttons.addWidget(self.revert_button)
        buttons.addStretch(1)
        buttons.addWidget(self.draw_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addLayout(top)
        layout.addWidget(self.stale)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.why)
        layout.addStretch(1)

        save = QShortcut(QKeySequence("Ctrl+S"), self)
        save.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        save.activated.connect(self.apply)
        self.apply_button.clicked.connect(self.apply)
        self.revert_button.clicked.connect(lambda: self.show_shot(self.shot, force=True))
        for signal in (self.description.textChanged, self.dialogue.textChanged,
                       self.characters.textChanged, self.note.textChanged,
                       self.camera.editTextChanged, self.framing.currentIndexChanged,
                       self.duration.valueChanged):
            signal.connect(self._changed)
        self.dialogue.textChanged.connect(self._show_default_duration)
        self.show_shot(None)

    # Showing.

    def show_shot(self, shot: Shot | None, *, force: bool = False) -> None:
        """Show ``shot``'s fields; a newer state of the shot being edited keeps what the
        person typed and not applied yet (unless ``force``)."""
        same = shot is not None and self.shot is not None and shot.shot_id == self.shot.shot_id
        keep = same and not force and bool(self.changes())
        self.shot = shot
        self.title.setText(self.tr("Shot %1").replace("%1", shot.number) if shot else
                           self.tr("No shot selected"))
        self._show_stale()
        if not keep:
            self._fill(shot)
        self._changed()

    def set_editable(self, editable: bool, why: str = "") -> None:
        for field in (self.description, self.dialogue):
            field.setReadOnly(not editable)
        for field in (self.characters, self.note):
            field.setReadOnly(not editable)
        for field in (self.framing, self.camera, self.duration):
            field.setEnabled(editable)
        self._editable = editable
        self.draw_button.setEnabled(editable)
        self.why.setText(why)
        self.why.setVisible(bool(why))
        self._changed()

    def _fill(self, shot: Shot | None) -> None:
        blockers = [self.description, self.dialogue, self.characters, self.note, self.camera,
                    self.framing, self.duration]
        for widget in blockers:
            widget.blockSignals(True)
        try:
            self.description.setPlainText(shot.description if shot else "")
            self.dialogue.setPlainText(shot.dialogue if shot else "")
            self.characters.setText(", ".join(shot.characters) if shot else "")
            self.note.setText(shot.note if shot else "")
            self.camera.setEditText(shot.camera if shot else "")
            row = self.framing.findData(shot.shot_type.value) if shot else 0
            self.framing.setCurrentIndex(max(0, row))
            self.duration.setValue(shot.duration_s or 0.0 if shot else 0.0)
        finally:
            for widget in blockers:
                widget.blockSignals(False)
        self._show_default_duration()

    def _show_stale(self) -> None:
        shot = self.shot
        self.stale.setText(self.tr("Stale: %1. “Regenerate stale shots” (Ctrl+Shift+R) "
                                   "draws it again.").replace("%1",
                                                              stale_reason_text(shot.stale))
                           if shot is not None and shot.stale else "")
        self.stale.setVisible(bool(self.stale.text()))
        self.draw_button.setVisible(shot is not None and shot.image is None)

    def _show_default_duration(self) -> None:
        seconds = timing.default_duration(self.dialogue.toPlainText())
        self.duration.setSpecialValueText(self.tr("from dialogue: %1").replace(
            "%1", duration_text(seconds)))

    # What changed.

    def changes(self) -> dict[str, Any]:
        """The fields that differ from the shot's, as ``set_shot`` takes them."""
        shot = self.shot
        if shot is None:
            return {}
        fields: dict[str, Any] = {}
        description = " ".join(self.description.toPlainText().split())
        if description and description != shot.description:
            fields["description"] = description
        framing = self.framing.currentData()
        if framing != shot.shot_type.value:
            fields["framing"] = framing
        camera = " ".join(self.camera.currentText().split())
        if camera and camera != shot.camera:
            fields["camera"] = camera
        dialogue = self.dialogue.toPlainText().strip()
        if dialogue != shot.dialogue:
            fields["dialogue"] = dialogue
        characters = _names(self.characters.text())
        if [n.casefold() for n in characters] != [n.casefold() for n in shot.characters]:
            fields["characters"] = characters
        duration = round(self.duration.value(), 1) or None
        if duration != (round(shot.duration_s, 1) if shot.duration_s else None):
            fields["duration_s"] = duration or FROM_DIALOGUE
        note = self.note.text().strip()
        if note != shot.note:
            fields["note"] = note
        return fields

    def _changed(self, *_args) -> None:
        editable = getattr(self, "_editable", True)
        changed = bool(self.changes())
        self.apply_button.setEnabled(editable and changed)
        self.revert_button.setEnabled(changed)

    def apply(self) -> None:
        fields = self.changes()
        if self.shot is not None and fields and self.apply_button.isEnabled():
            self.applied.emit(self.shot.shot_id, fields)


class BoardControls(QObject):
    """The board's actions on the gallery of the run view: context menu, keys, drops, and
    the editor's Apply, each made a step of ``undo``. ``run`` gives the run on show and
    whether it can be edited now."""

    def __init__(self, gallery: GalleryView, editor: ShotEditor, undo: BoardUndo,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.gallery, self.editor, self.undo = gallery, editor, undo
        self.model: ShotModel = gallery.shot_model()
        self.run_id: str | None = None
        self.editable = False
        self.session: Session | None = None

        def action(text: str, slot, keys: list[str]) -> QAction:
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            gallery.addAction(act)
            return act

        # Ctrl+N is also File > New idea: the gallery takes it while it has the focus.
        self.add_action = action(self.tr("&Add shot after"), self.add_after, ["Insert"])
        self.add_action.setToolTip(self.tr("A new shot after the selected one (Insert, or "
                                           "Ctrl+N in the storyboard)"))
        self.duplicate_action = action(self.tr("D&uplicate"), self.duplicate, ["Ctrl+D"])
        self.delete_action = action(self.tr("&Delete"), self.delete, ["Delete"])
        gallery.installEventFilter(self)
        gallery.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        gallery.customContextMenuRequested.connect(self.context_menu)
        self.model.shot_dropped.connect(self.dropped)
        editor.applied.connect(self.set_fields)
        self.set_run(None, False)

    def set_run(self, run_id: str | None, editable: bool) -> None:
        self.run_id, self.editable = run_id, editable
        self.model.editable = editable
        for act in (self.add_action, self.duplicate_action, self.delete_action):
            act.setEnabled(editable)

    def selected(self) -> Shot | None:
        index = self.gallery.currentIndex()
        if not index.isValid() or not self.gallery.selectionModel().isSelected(index):
            return None
        return index.data(ShotRole)

    def select(self, shot_id: str | None) -> None:
        row = self.model.row_of(shot_id) if shot_id else None
        if row is None:
            return
        index = self.model.index(row)
        self.gallery.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.gallery.scrollTo(index)

    def _ready(self) -> bool:
        return self.editable and self.run_id is not None and not self.undo.busy

    # The steps.

    def add_after(self) -> None:
        if not self._ready():
            return
        shot = self.selected() or (self.model.shots[-1] if self.model.shots else None)
        place: Place = {"after": shot.shot_id} if shot else {"scene": 1}
        self.undo.perform(AddStep(self.run_id, self.tr("Add shot"), place,
                                  {"text": self.tr("A new shot")}),
                          on_done=lambda edit: self.select(edit.shot_id))

    def duplicate(self) -> None:
        shot = self.selected()
        if shot is None or not self._ready():
            return
        self.undo.perform(DuplicateStep(self.run_id, self.tr("Duplicate shot %1").replace(
            "%1", shot.number), shot.shot_id), on_done=lambda edit: self.select(edit.shot_id))

    def delete(self) -> QMessageBox | None:
        """Delete the selected shot; asks first only when an image would go with it."""
        shot = self.selected()
        if shot is None or not self._ready():
            return None
        images = (1 if shot.image is not None else 0) + len(shot.versions)
        if not images:
            self._delete(shot)
            return None
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Delete shot %1?").replace(
            "%1", shot.number), (self.tr("Its image goes with it.") if images == 1 else
                                 self.tr("Its %1 images go with it.").replace("%1", str(images)))
            + " " + self.tr("Undo (Ctrl+Z) brings the shot back while this window is open."),
            QMessageBox.StandardButton.NoButton, self.gallery)
        delete = box.addButton(self.tr("Delete"), QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton(self.tr("Keep"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: button is delete and self._delete(shot))
        box.open()  # never exec(): a nested loop under qasync stalls the tasks
        return box

    def _delete(self, shot: Shot) -> None:
        shots = self.model.shots
        row = self.model.row_of(shot.shot_id)
        neighbour = shots[row + 1] if row is not None and row + 1 < len(shots) else \
            shots[row - 1] if row else None
        self.undo.perform(DeleteStep(self.run_id, self.tr("Delete shot %1").replace(
            "%1", shot.number), shot, place_of(shots, shot.shot_id)),
            on_done=lambda _edit: self.select(neighbour.shot_id if neighbour else None))

    def move(self, shot_id: str, to: Place) -> None:
        shot = self.model.shot(shot_id)
        if shot is None or not self._ready():
            return
        back = place_of(self.model.shots, shot_id)
        if to == back or to.get("after") == shot_id:
            return  # where it is already
        self.undo.perform(MoveStep(self.run_id, self.tr("Move shot %1").replace(
            "%1", shot.number), shot_id, to, back),
            on_done=lambda _edit: self.select(shot_id))

    def move_to_scene(self, shot_id: str, scene: int) -> None:
        """To the end of ``scene`` (its start when it has no shot)."""
        last = [s for s in self.model.shots if s.scene == scene and s.shot_id != shot_id]
        self.move(shot_id, {"after": last[-1].shot_id} if last else {"scene": scene})

    def dropped(self, shot_id: str, row: int) -> None:
        """A card dropped onto the card at ``row`` (``row`` past the last: after the last
        card). Dragged forward it goes after that card, backward before it, so every place
        can be reached; onto another scene's card it joins that scene."""
        shots = self.model.shots
        source = self.model.row_of(shot_id)
        if source is None or not shots or row == source:
            return
        if row >= len(shots):
            target = shots[-1]
            if target.shot_id != shot_id:
                self.move(shot_id, {"after": target.shot_id})
            return
        target = shots[row]
        if row > source:
            self.move(shot_id, {"after": target.shot_id})
            return
        before = [s for s in shots[:row] if s.shot_id != shot_id]
        if before and before[-1].scene == target.scene:
            self.move(shot_id, {"after": before[-1].shot_id})
        else:
            self.move(shot_id, {"scene": target.scene})

    def set_fields(self, shot_id: str, fields: dict[str, Any]) -> None:
        shot = self.model.shot(shot_id)
        if shot is None or not fields or not self._ready():
            return
        old = {"description": shot.description, "framing": shot.shot_type.value,
               "camera": shot.camera, "dialogue": shot.dialogue,
               "characters": list(shot.characters),
               "duration_s": shot.duration_s or FROM_DIALOGUE,
               "note": shot.note}
        self.undo.perform(SetStep(self.run_id, self.tr("Change shot %1").replace(
            "%1", shot.number), shot_id, fields, {k: old[k] for k in fields}),
            on_done=lambda _edit: self.select(shot_id))

    # The menu and the keys.

    def context_menu(self, pos) -> QMenu:
        menu = self.menu_at(pos)
        menu.popup(self.gallery.viewport().mapToGlobal(pos))
        return menu

    def menu_at(self, pos) -> QMenu:
        """The context menu for the card at ``pos`` (viewport coordinates), not shown yet."""
        index = self.gallery.indexAt(pos)
        if index.isValid():
            self.gallery.setCurrentIndex(index)
        shot = self.selected()
        menu = QMenu(self.gallery)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction(self.add_action)
        if shot is not None:
            menu.addAction(self.duplicate_action)
            scenes = menu.addMenu(self.tr("&Move to scene"))
            scenes.setEnabled(self.editable)
            for scene in sorted({s.scene for s in self.model.shots}):
                act = scenes.addAction(self.tr("Scene %1").replace("%1", str(scene)))
                act.setEnabled(scene != shot.scene)
                act.triggered.connect(lambda _=False, n=scene, i=shot.shot_id:
                                      self.move_to_scene(i, n))
            menu.addSeparator()
            menu.addAction(self.delete_action)
        return menu

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The board's keys while the gallery has the focus, before any shortcut: Ctrl+N is
        also File > New idea and Delete the history's (both window-wide)."""
        if watched is self.gallery and event.type() in (QEvent.Type.ShortcutOverride,
                                                        QEvent.Type.KeyPress):
            act = self._keys().get(event.keyCombination().toCombined())
            if act is not None:
                if event.type() == QEvent.Type.ShortcutOverride:
                    event.accept()  # a key press for the gallery, not a shortcut
                elif act.isEnabled():
                    act.trigger()
                return True
        return super().eventFilter(watched, event)

    def _keys(self) -> dict[int, QAction]:
        keys = {QKeySequence("Ctrl+N")[0].toCombined(): self.add_action}
        for act in (self.add_action, self.duplicate_action, self.delete_action):
            for sequence in act.shortcuts():
                keys[sequence[0].toCombined()] = act
        return keys
