"""The filter bar above the gallery: which cards to show, and a jump list of scenes.

A feature's board has a thousand shots or more. The bar narrows it by scene, by
status and to the stale shots only, and its jump list scrolls to a scene's first
card. Filtering hides the gallery's rows (``QListView.setRowHidden``) rather than
putting a proxy between the view and the model, so ``view.model()`` stays the
``ShotModel`` every other part of the window (and its tests) works with; only
rows whose fate changes are touched, so a filter over two thousand shots costs
a few milliseconds, and shots landing are checked in the batches the model
announces them in.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QWidget,
)

from app.core.models import Shot, ShotStatus
from app.ui.gallery import GalleryView, ShotModel
from app.ui.statuses import shot_status_word


class BoardFilter(QWidget):
    """Scene, status and "stale only" filters for a ``GalleryView``, and a scene jump list."""

    changed = Signal()  # the cards shown changed

    def __init__(self, view: GalleryView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("boardFilter")
        self.view = view
        self.model: ShotModel = view.shot_model()
        self._headings: dict[int, str] = {}
        self._scenes: list[int] = []
        self._hidden: set[int] = set()  # rows hidden in the view, as this bar set them
        self.shown = 0

        self.scene = QComboBox(objectName="sceneFilter")
        self.scene.setToolTip(self.tr("Show the shots of one scene"))
        self.status = QComboBox(objectName="statusFilter")
        self.status.setToolTip(self.tr("Show the shots in one state"))
        self.status.addItem(self.tr("Any status"), None)
        for status in ShotStatus:
            self.status.addItem(shot_status_word(status), status.value)
        self.stale = QCheckBox(self.tr("Stale only"), objectName="staleFilter")
        self.stale.setToolTip(self.tr("Show only the shots whose image an edit made stale"))
        self.count = QLabel(objectName="filterCount")
        self.jump = QComboBox(objectName="sceneJump")
        self.jump.setToolTip(self.tr("Scroll to the first shot of a scene"))
        self.jump.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.jump.setMinimumContentsLength(24)
        self.scene.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.scene.setMinimumContentsLength(16)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 2)
        layout.setSpacing(8)
        layout.addWidget(QLabel(self.tr("Show:")))
        layout.addWidget(self.scene)
        layout.addWidget(self.status)
        layout.addWidget(self.stale)
        layout.addWidget(self.count)
        layout.addStretch(1)
        layout.addWidget(self.jump)
        self._fill_scenes()

        self.scene.currentIndexChanged.connect(lambda _i: self.apply())
        self.status.currentIndexChanged.connect(lambda _i: self.apply())
        self.stale.toggled.connect(lambda _on: self.apply())
        self.jump.activated.connect(self._jump_chosen)
        self.model.modelReset.connect(self._reset)
        self.model.rowsInserted.connect(self._rows_inserted)
        self.model.dataChanged.connect(self._rows_changed)

    # What the bar asks for.

    @property
    def scene_filter(self) -> int | None:
        return self.scene.currentData()

    @property
    def status_filter(self) -> ShotStatus | None:
        value = self.status.currentData()
        return ShotStatus(value) if value is not None else None

    @property
    def active(self) -> bool:
        return (self.scene_filter is not None or self.status_filter is not None
                or self.stale.isChecked())

    def set_filter(self, *, scene: int | None = None, status: ShotStatus | None = None,
                   stale_only: bool = False) -> None:
        """Show only the shots of ``scene``, in ``status``, stale: None/False is any."""
        widgets = (self.scene, self.status, self.stale)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.scene.setCurrentIndex(max(0, self.scene.findData(scene)) if scene else 0)
            self.status.setCurrentIndex(
                max(0, self.status.findData(status.value)) if status else 0)
            self.stale.setChecked(stale_only)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self.apply()

    def accepts(self, shot: Shot) -> bool:
        scene, status = self.scene_filter, self.status_filter
        return ((scene is None or shot.scene == scene)
                and (status is None or shot.status is status)
                and (not self.stale.isChecked() or bool(shot.stale)))

    def set_headings(self, headings: dict[int, str]) -> None:
        """The scenes' headings (``Scene.heading`` by index), for the lists' words."""
        if headings != self._headings:
            self._headings = dict(headings)
            self._scenes = []  # refill with the new words
            self._fill_scenes()

    # Filtering.

    def apply(self) -> None:
        """Hide the rows the filters refuse, show the others (touching only changes)."""
        self._check_rows(range(self.model.rowCount()))
        self._show_count()

    def _check_rows(self, rows: range) -> bool:
        shots = self.model._shots  # read only, row by row: no copy of a feature's board
        active = self.active
        changed = False
        if not active and not self._hidden:  # nothing hidden, nothing to hide
            rows = range(0)
        for row in rows:
            hide = active and not self.accepts(shots[row])
            if hide != (row in self._hidden):
                self.view.setRowHidden(row, hide)
                (self._hidden.add if hide else self._hidden.discard)(row)
                changed = True
        self.shown = self.model.rowCount() - len(self._hidden)
        return changed

    def _show_count(self) -> None:
        total = self.model.rowCount()
        if self.active:
            self.count.setText(self.tr("%1 of %2 shots").replace("%1", str(self.shown))
                               .replace("%2", str(total)))
        self.count.setVisible(self.active)
        self.view.filtered_empty = self.active and total > 0 and self.shown == 0
        self.view.viewport().update()
        self.changed.emit()

    def _reset(self) -> None:
        self._hidden.clear()  # QListView forgets hidden rows on a reset
        self._fill_scenes()
        self.apply()

    def _rows_inserted(self, _parent: QModelIndex, _first: int, _last: int) -> None:
        # the view keeps hidden rows by persistent index: read them back, shifted
        self._hidden = {row for row in range(self.model.rowCount())
                        if self.view.isRowHidden(row)}
        self._fill_scenes()
        self.apply()

    def _rows_changed(self, top: QModelIndex, bottom: QModelIndex, _roles=()) -> None:
        if self.active:  # a landed shot may now pass a status filter, or fail it
            rows = range(top.row(), min(bottom.row() + 1, self.model.rowCount()))
            if self._check_rows(rows):
                self._show_count()

    # Scenes.

    def _fill_scenes(self) -> None:
        scenes = sorted({shot.scene for shot in self.model._shots})
        if scenes == self._scenes:
            return
        self._scenes = scenes
        chosen = self.scene_filter
        self.scene.blockSignals(True)
        self.scene.clear()
        self.scene.addItem(self.tr("All scenes"), None)
        self.jump.clear()
        self.jump.addItem(self.tr("Jump to scene…"), None)
        for scene in scenes:
            heading = self._headings.get(scene, "")
            words = (self.tr("Scene %1: %2").replace("%1", str(scene)).replace("%2", heading)
                     if heading else self.tr("Scene %1").replace("%1", str(scene)))
            self.scene.addItem(self.tr("Scene %1").replace("%1", str(scene)), scene)
            self.scene.setItemData(self.scene.count() - 1, words, Qt.ItemDataRole.ToolTipRole)
            self.jump.addItem(words, scene)
        self.scene.setCurrentIndex(max(0, self.scene.findData(chosen)) if chosen else 0)
        self.scene.blockSignals(False)
        self.jump.setEnabled(len(scenes) > 1)
        self.scene.setEnabled(bool(scenes))

    def _jump_chosen(self, index: int) -> None:
        scene = self.jump.itemData(index)
        self.jump.setCurrentIndex(0)
        if scene is not None:
            self.jump_to_scene(scene)

    def jump_to_scene(self, scene: int) -> int | None:
        """Scroll the gallery to the first shown card of ``scene``; its row, or None."""
        for row, shot in enumerate(self.model._shots):
            if shot.scene == scene and row not in self._hidden:
                self.view.finish_layout()
                self.view.scrollTo(self.model.index(row),
                                   QAbstractItemView.ScrollHint.PositionAtTop)
                return row
        return None
