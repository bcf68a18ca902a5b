"""The Scenes tab: the cast's looks and the scenes of a run, editable once it has finished.

Each look, and each scene's heading and summary, is a field with its own Apply
(or Ctrl+S in the field). Nothing is saved or rendered here: the page shows a
run and says what the person applied; the run view hands that to the session,
whose pipeline saves it and marks stale the shots whose image no longer matches
("Regenerate stale shots" renders them again). A field keeps what the person
typed until it is applied, whatever arrives meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.models import Character, Run, Scene, Shot, ShotStatus
from app.ui.gallery import STALE_COLOR

PAGE_WIDTH = 900


def _words(text: str) -> str:
    """Text as the core keeps it: words separated by single spaces."""
    return " ".join(text.split())


def _muted(label: QLabel) -> QLabel:
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def _field(lines: int) -> QPlainTextEdit:
    field = QPlainTextEdit()
    field.setTabChangesFocus(True)
    height = field.fontMetrics().lineSpacing() * lines
    field.setFixedHeight(round(height + 2 * field.document().documentMargin() + 8))
    return field


def _stale_html(count: int, text: str) -> str:
    return f'<span style="color:{STALE_COLOR}">{text}</span>' if count else ""


class EditorRow(QFrame):
    """One editable thing: its fields, an Apply button, a line of news under them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.apply_button = QPushButton(self.tr("Apply"))
        self.apply_button.setToolTip(self.tr("Save this change; the shots it changes are "
                                             "marked stale (Ctrl+S)"))
        self.note = _muted(QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText))
        self.note.hide()
        self.editable = False
        shortcut = QShortcut(QKeySequence.StandardKey.Save, self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.apply)
        self.apply_button.clicked.connect(self.apply)

    def modified(self) -> bool:
        raise NotImplementedError

    def apply(self) -> None:
        raise NotImplementedError

    def set_editable(self, editable: bool, why: str) -> None:
        self.editable = editable
        self.apply_button.setToolTip(why or self.tr("Save this change; the shots it changes "
                                                    "are marked stale (Ctrl+S)"))
        self._update()

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def _update(self) -> None:
        self.apply_button.setEnabled(self.editable and self.modified())


class LookEditor(EditorRow):
    """A character's look, as the prompts of the shots they are in describe them."""

    applied = Signal(str, str)  # name, look

    def __init__(self, character: Character, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lookEditor")
        self.name = character.name
        self.saved = character.description
        self.title = QLabel(character.name.title(), textFormat=Qt.TextFormat.PlainText)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.meta = _muted(QLabel(textFormat=Qt.TextFormat.PlainText))
        self.look = _field(3)
        self.look.setPlaceholderText(self.tr("How %1 looks: age, build, face, hair, clothes")
                                     .replace("%1", character.name.title()))
        self.look.setPlainText(character.description)
        self.look.setAccessibleName(self.tr("Look of %1").replace("%1", character.name.title()))

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 6, 0, 6)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.title)
        top.addWidget(self.meta, 1)
        grid.addLayout(top, 0, 0)
        grid.addWidget(self.look, 1, 0)
        grid.addWidget(self.apply_button, 1, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.note, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        self.look.textChanged.connect(self._update)
        self._update()

    def modified(self) -> bool:
        return _words(self.look.toPlainText()) != _words(self.saved)

    def set_saved(self, look: str) -> None:
        """The look as stored now; the field follows unless the person has changed it."""
        if not self.modified():
            self.look.setPlainText(look)
        self.saved = look
        self._update()

    def set_counts(self, shots: int, stale: int) -> None:
        text = (self.tr("in 1 shot") if shots == 1 else
                self.tr("in %1 shots").replace("%1", str(shots)))
        if stale:
            text += " · " + _stale_html(stale, self.tr("%1 stale").replace("%1", str(stale)))
        self.meta.setText(text)

    def apply(self) -> None:
        if self.apply_button.isEnabled():
            self.set_note("")
            self.applied.emit(self.name, self.look.toPlainText())


class SceneEditor(EditorRow):
    """A scene's heading and summary, as the prompts of its shots describe the place and
    the action."""

    applied = Signal(int, object, object)  # index, new heading or None, new summary or None

    def __init__(self, scene: Scene, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sceneEditor")
        self.index = scene.index
        self.saved_heading, self.saved_summary = scene.heading, scene.summary
        number = QLabel(f"{scene.index}.")
        font = QFont(number.font())
        font.setBold(True)
        number.setFont(font)
        self.heading = QLineEdit(scene.heading)
        self.heading.setFont(font)
        self.heading.setPlaceholderText(self.tr("INT. PLACE - TIME"))
        self.heading.setAccessibleName(self.tr("Heading of scene %1").replace(
            "%1", str(scene.index)))
        self.summary = _field(3)
        self.summary.setPlaceholderText(self.tr("What happens in this scene"))
        self.summary.setPlainText(scene.summary)
        self.summary.setAccessibleName(self.tr("Summary of scene %1").replace(
            "%1", str(scene.index)))
        self.meta = _muted(QLabel(textFormat=Qt.TextFormat.PlainText))
        self.meta.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 6, 0, 6)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        grid.addWidget(number, 0, 0, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.heading, 0, 1)
        grid.addWidget(self.meta, 1, 1)
        grid.addWidget(self.summary, 2, 1)
        grid.addWidget(self.apply_button, 2, 2, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.note, 3, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        self.heading.textChanged.connect(self._update)
        self.summary.textChanged.connect(self._update)
        self._update()

    def heading_modified(self) -> bool:
        return _words(self.heading.text()) != _words(self.saved_heading)

    def summary_modified(self) -> bool:
        return _words(self.summary.toPlainText()) != _words(self.saved_summary)

    def modified(self) -> bool:
        return self.heading_modified() or self.summary_modified()

    def set_saved(self, scene: Scene) -> None:
        if not self.heading_modified():
            self.heading.setText(scene.heading)
        if not self.summary_modified():
            self.summary.setPlainText(scene.summary)
        self.saved_heading, self.saved_summary = scene.heading, scene.summary
        self._update()

    def set_counts(self, shots: list[Shot], cast: list[str]) -> None:
        done = sum(1 for s in shots if s.status is ShotStatus.DONE)
        failed = sum(1 for s in shots if s.status is ShotStatus.FAILED)
        stale = sum(1 for s in shots if s.stale)
        parts = [self.tr("1 shot") if len(shots) == 1 else
                 self.tr("%1 shots").replace("%1", str(len(shots)))]
        if shots:
            parts[0] += self.tr(", %1 done").replace("%1", str(done))
        if failed:
            parts[0] += self.tr(", %1 failed").replace("%1", str(failed))
        if cast:
            parts.append(", ".join(name.title() for name in cast))
        if stale:
            parts.append(_stale_html(stale, self.tr("%1 stale").replace("%1", str(stale))))
        self.meta.setText(" · ".join(parts))

    def apply(self) -> None:
        if self.apply_button.isEnabled():
            self.set_note("")
            self.applied.emit(self.index,
                              self.heading.text() if self.heading_modified() else None,
                              self.summary.toPlainText() if self.summary_modified() else None)


class ScenesPage(QScrollArea):
    """The cast, then the scenes, of the run on show."""

    look_applied = Signal(str, str)  # name, look
    scene_applied = Signal(int, object, object)  # index, heading or None, summary or None

    def __init__(self, empty_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scenesPage")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.looks: dict[str, LookEditor] = {}
        self.scenes: dict[int, SceneEditor] = {}
        self._shape: tuple = ()
        self._editable, self._why = False, ""

        self.empty = _muted(QLabel(empty_text, wordWrap=True,
                                   alignment=Qt.AlignmentFlag.AlignCenter))
        self.cast_title = self._heading(self.tr("Cast"))
        self.intro = _muted(QLabel(wordWrap=True))
        self.no_cast = _muted(QLabel(self.tr("No named characters in this story.")))
        self.cast_box = QVBoxLayout()
        self.cast_box.setSpacing(0)
        self.scenes_title = self._heading(self.tr("Scenes"))
        self.scene_box = QVBoxLayout()
        self.scene_box.setSpacing(0)

        column = QVBoxLayout()
        column.setContentsMargins(24, 18, 24, 24)
        column.setSpacing(6)
        column.addWidget(self.empty)
        column.addWidget(self.cast_title)
        column.addWidget(self.intro)
        column.addWidget(self.no_cast)
        column.addLayout(self.cast_box)
        column.addSpacing(12)
        column.addWidget(self.scenes_title)
        column.addLayout(self.scene_box)
        column.addStretch(1)
        page = QWidget(objectName="scenesColumn")
        page.setMaximumWidth(PAGE_WIDTH)
        page.setLayout(column)
        outer = QWidget()
        centre = QHBoxLayout(outer)
        centre.setContentsMargins(0, 0, 0, 0)
        centre.addStretch(0)
        centre.addWidget(page, 1)
        centre.addStretch(0)
        self.setWidget(outer)
        self.show_run(None, [])

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(text)
        font = QFont(label.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2 if font.pointSizeF() > 0 else 12)
        label.setFont(font)
        return label

    # Showing a run.

    def show_run(self, run: Run | None, shots: Iterable[Shot]) -> None:
        """Show ``run``'s cast and scenes with the counts of ``shots`` (the cards' states).
        The same run again only updates what was saved and the counts."""
        shots = list(shots)
        cast = list(run.script.characters) if run is not None and run.script else []
        scenes = list(run.scenes) if run is not None else []
        shape = (run.run_id if run else None, run is not None and run.script is not None,
                 tuple(c.name for c in cast), tuple(s.index for s in scenes))
        if shape != self._shape:
            self._rebuild(cast, scenes)
            self._shape = shape
            has_script = run is not None and run.script is not None
            self.empty.setVisible(not scenes and not has_script)
            for widget in (self.cast_title, self.intro):
                widget.setVisible(has_script)
            self.no_cast.setVisible(has_script and not cast)
            self.scenes_title.setVisible(bool(scenes))
        else:
            for character in cast:
                self.looks[character.name].set_saved(character.description)
            for scene in scenes:
                self.scenes[scene.index].set_saved(scene)
        self._count(cast, scenes, shots)

    def _rebuild(self, cast: list[Character], scenes: list[Scene]) -> None:
        for editor in [*self.looks.values(), *self.scenes.values()]:
            editor.hide()
            editor.deleteLater()
        self.looks, self.scenes = {}, {}
        for character in cast:
            editor = LookEditor(character)
            editor.applied.connect(self.look_applied)
            self.looks[character.name] = editor
            self.cast_box.addWidget(editor)
        for scene in scenes:
            editor = SceneEditor(scene)
            editor.applied.connect(self.scene_applied)
            self.scenes[scene.index] = editor
            self.scene_box.addWidget(editor)
        for editor in [*self.looks.values(), *self.scenes.values()]:
            editor.set_editable(self._editable, self._why)

    def _count(self, cast: list[Character], scenes: list[Scene], shots: list[Shot]) -> None:
        for character in cast:
            key = character.name.casefold()
            mine = [s for s in shots if any(n.casefold() == key for n in s.characters)]
            self.looks[character.name].set_counts(len(mine), sum(1 for s in mine if s.stale))
        for scene in scenes:
            self.scenes[scene.index].set_counts([s for s in shots if s.scene == scene.index],
                                                scene.characters)

    def set_editable(self, editable: bool, why: str = "") -> None:
        """Whether changes can be applied now; ``why`` not, in the Apply buttons' tooltip."""
        if (editable, why) == (self._editable, self._why) and self.intro.text():
            return
        self._editable, self._why = editable, why
        for editor in [*self.looks.values(), *self.scenes.values()]:
            editor.set_editable(editable, why)
        self.intro.setText(
            self.tr("Change a look or a scene and press Apply (Ctrl+S): the shots it changes "
                    "are marked stale, then “Regenerate stale shots” renders only those, with "
                    "their seeds kept.") if editable or not why else why)

    def note(self, *, look: str | None = None, scene: int | None = None, text: str) -> None:
        """A line of news under one editor (what its last change did)."""
        editor = self.looks.get(look) if look is not None else self.scenes.get(scene or 0)
        if editor is not None:
            editor.set_note(text)
