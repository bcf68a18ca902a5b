"""The history side panel: past runs, newest first, searchable, with a cover image each.

Everything it shows comes from the history store through ``Ops`` (never on the
GUI thread); cover images (the first finished shot of a run) are fetched only
for the rows being painted. A run that ran on RunPod says the GPU time it cost
(in its tooltip, with the time queued). Deleting asks first, without blocking
the loop.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractListModel,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeySequence, QPainter, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.core.history import PageCursor
from app.core.models import ImageRef, Run, RunStatus, ShotStatus
from app.ui.costs import history_cost_text
from app.ui.errors import ErrorPresenter
from app.ui.ops import Ops
from app.ui.session import Session
from app.ui.statuses import decimal, run_status_text
from app.ui.thumbnails import ThumbnailLoader

PAGE = 50
RunRole = Qt.ItemDataRole.UserRole + 1
CoverRole = Qt.ItemDataRole.UserRole + 2

STATUS_COLORS = {
    RunStatus.RUNNING: "#2f7fe0",
    RunStatus.COMPLETED: "#2e9d5b",
    RunStatus.PARTIAL: "#b07a1e",
    RunStatus.FAILED: "#d64545",
    RunStatus.CANCELLED: "#8a8f98",
}
Index = QModelIndex | QPersistentModelIndex


class RunListModel(QAbstractListModel):
    def __init__(self, ops: Ops, session: Session, thumbnails: ThumbnailLoader,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops, self.session, self.thumbnails = ops, session, thumbnails
        self._runs: list[Run] = []
        self._covers: dict[str, ImageRef | None] = {}  # run id -> first finished image
        self._asked: set[str] = set()
        thumbnails.ready.connect(self._image_arrived)

    @property
    def runs(self) -> list[Run]:
        return list(self._runs)

    def set_runs(self, runs: list[Run], *, append: bool = False) -> None:
        self.beginResetModel()
        self._runs = [*self._runs, *runs] if append else list(runs)
        self._asked = {rid for rid in self._asked if self._covers.get(rid) is not None}
        self.endResetModel()

    def remove(self, run_id: str) -> None:
        for row, run in enumerate(self._runs):
            if run.run_id == run_id:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._runs[row]
                self.endRemoveRows()
                return

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._runs)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._runs):
            return None
        run = self._runs[index.row()]
        if role == RunRole:
            return run
        if role == CoverRole:
            return self._cover(run)
        if role == Qt.ItemDataRole.DisplayRole:
            return run.title or run.idea[:60]
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{run.title}\n{run.run_id}\n\n{run.idea[:300]}"
            if run.gpu_seconds or run.queue_seconds:
                tip += "\n\n" + self.tr("GPU: %1 s billed, %2 s queued").replace(
                    "%1", decimal(run.gpu_seconds)).replace("%2", decimal(run.queue_seconds))
            return tip
        return None

    def _cover(self, run: Run):
        ref = self._covers.get(run.run_id)
        if ref is not None:
            image = self.thumbnails.get(ref)
            if image is None:
                self.thumbnails.request(ref)
            return image
        if run.run_id not in self._asked and run.shots_done:
            self._asked.add(run.run_id)
            self.ops.start(self.session.services.history.get_run(run.run_id),
                           what=self.tr("Loading a cover image"), parent=self,
                           success=self._cover_found, failure=lambda _exc: None)
        return None

    def _cover_found(self, run: Run) -> None:
        ref = next((s.image for s in run.shots
                    if s.status is ShotStatus.DONE and s.image is not None), None)
        self._covers[run.run_id] = ref
        if ref is not None:
            self.thumbnails.request(ref)

    def _image_arrived(self, key: str) -> None:
        for row, run in enumerate(self._runs):
            ref = self._covers.get(run.run_id)
            if ref is not None and ref.key == key:
                index = self.index(row)
                self.dataChanged.emit(index, index, [CoverRole])


class RunDelegate(QStyledItemDelegate):
    COVER = QSize(96, 54)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(200, max(self.COVER.height(), 2 * option.fontMetrics.lineSpacing()) + 16)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        run: Run = index.data(RunRole)
        palette: QPalette = option.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = QRectF(option.rect).adjusted(4, 2, -4, -2)
        if option.state & QStyle.StateFlag.State_Selected:
            tint = QColor(palette.color(QPalette.ColorRole.Highlight))
            tint.setAlpha(48)  # a tint of the accent: readable in the light and the dark look
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(tint)
            painter.drawRoundedRect(rect, 6, 6)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(rect, 6, 6)

        cover = QRectF(rect.left() + 6, rect.center().y() - self.COVER.height() / 2,
                       self.COVER.width(), self.COVER.height())
        image = index.data(CoverRole)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Midlight))
        painter.drawRoundedRect(cover, 4, 4)
        if image is not None and not image.isNull():
            painter.drawImage(cover, image, _fit_source(image.width(), image.height(), cover))

        left = round(cover.right() + 10)
        width = round(rect.right() - left - 6)
        line = option.fontMetrics.lineSpacing()
        top = round(rect.center().y() - line - 1)
        title_font = QFont(option.font)
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        title = run.title or run.idea.replace("\n", " ")
        painter.drawText(QRect(left, top, width, line), Qt.AlignmentFlag.AlignLeft,
                         QFontMetrics(title_font).elidedText(title, Qt.TextElideMode.ElideRight,
                                                             width))
        painter.setFont(option.font)
        color = QColor(STATUS_COLORS.get(run.status, "#8a8f98"))
        status = run_status_text(run.status)
        when = QLocale().toString(run.created_at.astimezone(), "d MMM, HH:mm")
        shots = self.tr("%1/%2 shots").replace("%1", str(run.shots_done)).replace(
            "%2", str(run.shot_count))
        cost = history_cost_text(run)
        if cost:
            shots += f" · {cost}"
        metrics = option.fontMetrics
        x = left
        painter.setPen(color)
        painter.drawText(QRect(x, top + line + 2, width, line), Qt.AlignmentFlag.AlignLeft, status)
        x += metrics.horizontalAdvance(status + "  ")
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        rest = metrics.elidedText(f"{when} · {shots}", Qt.TextElideMode.ElideRight,
                                  max(0, left + width - x))
        painter.drawText(QRect(x, top + line + 2, left + width - x, line),
                         Qt.AlignmentFlag.AlignLeft, rest)
        painter.restore()


def _fit_source(w: int, h: int, target: QRectF) -> QRectF:
    scale = max(target.width() / max(1, w), target.height() / max(1, h))
    sw, sh = target.width() / scale, target.height() / scale
    return QRectF((w - sw) / 2, (h - sh) / 2, sw, sh)


class HistoryPanel(QFrame):
    run_opened = Signal(str)  # run id
    run_deleted = Signal(str)  # run id

    def __init__(self, ops: Ops, session: Session, thumbnails: ThumbnailLoader,
                 presenter: ErrorPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyPanel")
        self.ops, self.session, self.presenter = ops, session, presenter
        self.model = RunListModel(ops, session, thumbnails, self)
        self.loaded = False  # a first list has arrived
        self._more = False

        heading = QLabel(self.tr("History"), objectName="panelTitle")
        self.count = QLabel(objectName="panelCount")
        self.search = QLineEdit(placeholderText=self.tr("Search titles and ideas"),
                                clearButtonEnabled=True, objectName="historySearch")
        self.list = QListView(objectName="historyList")
        self.list.setModel(self.model)
        self.list.setItemDelegate(RunDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setMouseTracking(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.empty = QLabel(wordWrap=True, objectName="emptyHint",
                            alignment=Qt.AlignmentFlag.AlignCenter)
        self.more_button = QPushButton(self.tr("Show older runs"), flat=True)
        self.more_button.hide()

        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 10, 10)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.more_button)

        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self.refresh)
        self._refresh_timer = QTimer(self, singleShot=True, interval=600)
        self._refresh_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.list.activated.connect(self._open)
        self.list.clicked.connect(self._open)
        self.list.customContextMenuRequested.connect(self._menu)
        self.more_button.clicked.connect(self.load_more)
        delete = QShortcut(QKeySequence.StandardKey.Delete, self.list)
        delete.activated.connect(self.delete_selected)
        session.bridge.run_started.connect(lambda _run: self._refresh_timer.start())
        session.bridge.run_finished.connect(lambda _run: self._refresh_timer.start())
        session.services_changed.connect(lambda _services: self.refresh())

    # Loading.

    def refresh(self) -> None:
        if not self.session.is_open:  # start-up: Ui.start refreshes once the store is open
            return
        text = self.search.text().strip() or None
        self.ops.start(self.session.services.history.list_runs(limit=PAGE, search=text),
                       what=self.tr("Loading history"), parent=self,
                       success=lambda runs, t=text: self._listed(runs, t, append=False))

    def load_more(self) -> None:
        runs = self.model.runs
        if not runs:
            return
        text = self.search.text().strip() or None
        self.ops.start(self.session.services.history.list_runs(
            limit=PAGE, before=PageCursor.after(runs[-1]), search=text),
            what=self.tr("Loading older runs"), parent=self,
            success=lambda more, t=text: self._listed(more, t, append=True))

    def _listed(self, runs: list[Run], search: str | None, *, append: bool) -> None:
        if search != (self.search.text().strip() or None):
            return  # the search changed meanwhile; its own answer is on the way
        self.loaded = True
        self.model.set_runs(runs, append=append)
        self._more = len(runs) == PAGE
        self.more_button.setVisible(self._more)
        n = self.model.rowCount()
        self.count.setText(f"{n}{'+' if self._more else ''}")
        if n:
            self.empty.hide()
        else:
            self.empty.setText(self.tr("No run matches “%1”.").replace("%1", search) if search
                               else self.tr("Runs you make are kept here."))
            self.empty.show()

    # Acting.

    def _open(self, index: QModelIndex) -> None:
        run = index.data(RunRole)
        if run is not None:
            self.run_opened.emit(run.run_id)

    def selected_run(self) -> Run | None:
        index = self.list.currentIndex()
        return index.data(RunRole) if index.isValid() else None

    def _menu(self, pos) -> None:
        index = self.list.indexAt(pos)
        run = index.data(RunRole) if index.isValid() else None
        if run is None:
            return
        menu = QMenu(self)
        menu.addAction(self.tr("Open"), lambda: self.run_opened.emit(run.run_id))
        menu.addSeparator()
        menu.addAction(self.tr("Delete…"), lambda: self.confirm_delete(run))
        menu.popup(self.list.viewport().mapToGlobal(pos))

    def delete_selected(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.confirm_delete(run)

    def confirm_delete(self, run: Run) -> QMessageBox | None:
        """Ask, without blocking the event loop; delete when the answer is yes."""
        if self.session.is_active(run.run_id):
            self.presenter.report(self.tr("Cannot delete a running run"),
                                  self.tr("Cancel “%1” first, then delete it.")
                                  .replace("%1", run.title or run.run_id))
            return None
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Delete run?"),
                          self.tr("Delete “%1” and its %2 shots from history? This cannot be "
                                  "undone.").replace("%1", run.title or run.run_id)
                          .replace("%2", str(run.shot_count)),
                          QMessageBox.StandardButton.Cancel, self)
        box.addButton(self.tr("Delete"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: self._answered(
            box.buttonRole(button) == QMessageBox.ButtonRole.DestructiveRole, run))
        box.open()
        return box

    def _answered(self, yes: bool, run: Run) -> None:
        if not yes:
            return
        self.ops.start(self.session.services.delete_run(run.run_id),
                       what=self.tr("Deleting a run"), parent=self,
                       success=lambda _found: self._deleted(run.run_id))

    def _deleted(self, run_id: str) -> None:
        self.model.remove(run_id)
        self.run_deleted.emit(run_id)
        self.refresh()
