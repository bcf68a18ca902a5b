"""The shot gallery: a model of the run's shots and a view that paints them as cards.

Model/view, so that 2000 shots are 2000 rows of data and a delegate that paints
the visible ones, not 2000 widgets. Shots stay in story order; each card shows
the shot number, type and camera, the description, and the status (queued,
rendering with its elapsed time, done, failed with the reason).

What it costs follows what is on screen, not the length of the board:

- images come from the ``ThumbnailLoader`` when a card is painted (never for
  cards off screen), into a cache bounded by bytes;
- shots landing by the hundred are stored at once but announced once a frame,
  each changed row once (adjacent rows in one ``dataChanged``);
- every card has the same size (``setUniformItemSizes``), so a landed shot
  never asks the view to lay out again;
- a card is drawn once into an opaque pixmap per look (status, image, size,
  hover…), kept in a cache bounded by bytes, and then copied: scrolling costs
  copies;
- new cards are drawn within a small budget per paint; past it they show as
  bare frames for a frame or two, so a jump into a long board never stalls.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Iterable

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    QSizeF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.core.board import NEW_SHOT
from app.core.models import Shot, ShotStatus
from app.core.timing import format_duration, shot_duration
from app.ui.statuses import CANCELLED_REASON, decimal, shot_status_word, shot_type_text
from app.ui.statuses import shot_status_text as status_text
from app.ui.thumbnails import ThumbnailLoader

ShotRole = Qt.ItemDataRole.UserRole + 1
ImageRole = Qt.ItemDataRole.UserRole + 2
ElapsedRole = Qt.ItemDataRole.UserRole + 3
ImageErrorRole = Qt.ItemDataRole.UserRole + 4
SHOT_MIME = "application/x-storyreel-shot"  # a dragged card: {"run_id", "shot_id"}

STATUS_COLORS = {
    ShotStatus.QUEUED: "#8a8f98",
    ShotStatus.RENDERING: "#2f7fe0",
    ShotStatus.DONE: "#2e9d5b",
    ShotStatus.FAILED: "#d64545",
    ShotStatus.CANCELLED: "#b07a1e",
}

STALE_COLOR = "#c98a1b"  # amber: the image no longer matches the plan

Index = QModelIndex | QPersistentModelIndex

_LOOK_CHANGED = re.compile(r"^(.+)'s look changed$")
_SCENE_CHANGED = re.compile(r"^scene (\d+) changed$")
_MOVED = re.compile(r"^moved from scene (\d+) to scene (\d+)$")
_FRAME_CHANGED = re.compile(r"^the frame changed to (.+)$")
_FIELDS_CHANGED = re.compile(r"^its (.+) changed$")


def stale_reason_text(reason: str) -> str:
    """Why a shot is stale (``Shot.stale``, the core's English), in the window's words;
    a reason this function does not know is shown as the core wrote it."""
    translate = QCoreApplication.translate
    if match := _LOOK_CHANGED.match(reason):
        return translate("ShotModel", "%1's look changed").replace("%1",
                                                                    match.group(1).title())
    if match := _SCENE_CHANGED.match(reason):
        return translate("ShotModel", "scene %1 changed").replace("%1", match.group(1))
    if reason == NEW_SHOT:  # a shot added on the board
        return translate("ShotModel", "new shot, not drawn yet")
    if match := _MOVED.match(reason):
        return translate("ShotModel", "moved from scene %1 to scene %2").replace(
            "%1", match.group(1)).replace("%2", match.group(2))
    if match := _FRAME_CHANGED.match(reason):
        return translate("ShotModel", "the frame changed to %1").replace("%1", match.group(1))
    if (match := _FIELDS_CHANGED.match(reason)) and set(
            re.split(r", | and ", match.group(1))) <= set(_field_words()):
        words = [_field_words()[w] for w in re.split(r", | and ", match.group(1))]
        joined = words[0] if len(words) == 1 else translate("ShotModel", "%1 and %2").replace(
            "%1", ", ".join(words[:-1])).replace("%2", words[-1])
        return translate("ShotModel", "its %1 changed").replace("%1", joined)
    return reason


def _field_words() -> dict[str, str]:
    """The fields of a shot a board edit names in a stale reason (``app.core.board``)."""
    translate = QCoreApplication.translate
    return {"description": translate("ShotModel", "description"),
            "framing": translate("ShotModel", "framing"),
            "camera move": translate("ShotModel", "camera move"),
            "cast": translate("ShotModel", "cast")}


def duration_text(seconds: float) -> str:
    """A duration as ``timing.format_duration`` writes it, seconds the locale's way
    ("4,5 s" in French); minutes and hours read the same everywhere."""
    return decimal(seconds) + " s" if seconds < 60 else format_duration(seconds)


def card_status_text(shot: Shot, elapsed: float | None) -> str:
    """A card's status line; a stale shot says why its image is out of date."""
    if shot.stale and shot.status is ShotStatus.DONE:
        return QCoreApplication.translate("ShotModel", "stale: %1").replace(
            "%1", stale_reason_text(shot.stale))
    return status_text(shot, elapsed)


class ShotModel(QAbstractListModel):
    """The shots of one run, in story order."""

    FRAME_MS = 16  # changes are announced at most once per frame

    shot_dropped = Signal(str, int)  # shot id, the row it was dropped on (rowCount: the end)

    def __init__(self, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.run_id: str | None = None
        self.editable = False  # cards can be dragged to another place (set by the run view)
        self.aspect = 16 / 9
        self._shots: list[Shot] = []
        self._rows: dict[str, int] = {}
        self._started: dict[str, float] = {}
        self._by_image: dict[str, str] = {}  # image key -> shot id
        self._shown_s: dict[str, int] = {}  # shot id -> elapsed second its card shows
        # Rows changed since the last frame, announced together by ``flush_updates``.
        self._dirty: set[str] = set()  # shot ids
        self._flush_timer = QTimer(self, singleShot=True, interval=self.FRAME_MS)
        self._flush_timer.timeout.connect(self.flush_updates)
        # Elapsed seconds go up when each shot's own second turns, not all at once: a tick
        # every 200 ms repaints the few cards whose second has turned since the last one.
        self._ticker = QTimer(self, interval=200)
        self._ticker.timeout.connect(self._tick)
        thumbnails.ready.connect(self._image_arrived)
        thumbnails.failed.connect(lambda key, _reason: self._image_arrived(key))

    # Filling.

    def set_shots(self, run_id: str | None, shots: Iterable[Shot], *,
                  aspect: float = 16 / 9) -> None:
        self.beginResetModel()
        self._dirty.clear()
        self._flush_timer.stop()
        self.run_id = run_id
        self.aspect = aspect
        self._shots = sorted(shots, key=lambda s: s.order)
        self._reindex()
        self._started = {s.shot_id: time.monotonic() for s in self._shots
                         if s.status is ShotStatus.RENDERING}
        self.endResetModel()
        self._update_ticker()

    def clear(self) -> None:
        self.set_shots(None, [])

    def update_shot(self, shot: Shot, *, live: bool = True) -> None:
        """A newer state of a shot of this run (others are ignored)."""
        if shot.run_id != self.run_id:
            return
        row = self._rows.get(shot.shot_id)
        if row is None:
            row = sum(1 for s in self._shots if s.order < shot.order)
            self.beginInsertRows(QModelIndex(), row, row)
            self._shots.insert(row, shot)
            self._reindex()
            self.endInsertRows()
        else:
            self._shots[row] = shot
            if shot.image is not None:
                self._by_image[shot.image.key] = shot.shot_id
        if shot.status is ShotStatus.RENDERING:
            self._started.setdefault(shot.shot_id, time.monotonic())
        else:
            self._started.pop(shot.shot_id, None)
            self._shown_s.pop(shot.shot_id, None)
        # ``live`` no longer asks for the image here: a card asks when it is painted, so a
        # shot landing off screen costs no decoding.
        self._changed(shot.shot_id)
        self._update_ticker()

    def _changed(self, shot_id: str) -> None:
        self._dirty.add(shot_id)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush_updates(self) -> None:
        """Announce the rows changed since the last frame: one ``dataChanged`` per run of
        adjacent rows, each row once however often it changed.

        Not one signal from the first changed row to the last: the view (and
        ``QAbstractListModel.index``) then visits every row between them, each visit a
        call of ``rowCount`` in Python -- measured: 260 000 calls in a 600-shot run."""
        self._flush_timer.stop()
        if not self._dirty:
            return
        rows = sorted(self._rows[i] for i in self._dirty if i in self._rows)
        self._dirty.clear()
        start = previous = None
        for row in [*rows, None]:
            if previous is not None and row == previous + 1:
                previous = row
                continue
            if start is not None:
                self.dataChanged.emit(self.index(start), self.index(previous))
            start = previous = row

    def shot_started(self, shot: Shot) -> None:
        if shot.run_id == self.run_id:
            self._started[shot.shot_id] = time.monotonic()  # elapsed counts from this attempt
            self.update_shot(shot)

    # Reading.

    @property
    def shots(self) -> list[Shot]:
        return list(self._shots)

    def shot(self, shot_id: str) -> Shot | None:
        row = self._rows.get(shot_id)
        return self._shots[row] if row is not None else None

    def row_of(self, shot_id: str) -> int | None:
        return self._rows.get(shot_id)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._shots)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._shots):
            return None
        shot = self._shots[index.row()]
        if role == ShotRole:
            return shot
        if role == ImageRole:
            image = self.thumbnails.get(shot.image)
            if image is None and shot.status is ShotStatus.DONE:
                self.thumbnails.request(shot.image)
            return image
        if role == ImageErrorRole:
            return self.thumbnails.error(shot.image)
        if role == ElapsedRole:
            started = self._started.get(shot.shot_id)
            return None if started is None else time.monotonic() - started
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{shot.number} {shot.shot_type.value}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(shot)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            text = self.tr("Shot %1, %2: %3").replace("%1", shot.number).replace(
                "%2", shot_status_word(shot.status)).replace("%3", shot.description)
            if shot.stale:
                text += self.tr(" (stale: %1)").replace("%1", stale_reason_text(shot.stale))
            return text
        return None

    def card(self, row: int) -> tuple[Shot, QImage | None, float | None] | None:
        """What a card shows: the shot, its image (asked for when missing), its elapsed
        seconds; what ``data`` gives for ShotRole, ImageRole and ElapsedRole, at once."""
        if not 0 <= row < len(self._shots):
            return None
        shot = self._shots[row]
        image = self.thumbnails.get(shot.image)
        if image is None and shot.status is ShotStatus.DONE:
            self.thumbnails.request(shot.image)
        started = self._started.get(shot.shot_id)
        return shot, image, None if started is None else time.monotonic() - started

    # Dragging a card: the model says what was dropped where; the board edit's answer
    # reloads the cards (``set_shots``), so no row is moved here.

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if self.editable:
            flags |= Qt.ItemFlag.ItemIsDropEnabled
            if index.isValid():
                flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [SHOT_MIME]

    def mimeData(self, indexes) -> QMimeData:
        mime = QMimeData()
        shots = [self._shots[i.row()] for i in indexes if i.isValid()]
        if shots:
            mime.setData(SHOT_MIME, json.dumps({"run_id": self.run_id,
                                                "shot_id": shots[0].shot_id}).encode())
        return mime

    def canDropMimeData(self, data: QMimeData, action, row: int, column: int,
                        parent: Index) -> bool:
        return self._dropped_shot(data) is not None

    def dropMimeData(self, data: QMimeData, action, row: int, column: int,
                     parent: Index) -> bool:
        shot_id = self._dropped_shot(data)
        if shot_id is None:
            return False
        target = parent.row() if parent.isValid() else row if row >= 0 else len(self._shots)
        self.shot_dropped.emit(shot_id, target)
        return False  # nothing moved here: the view must not remove the dragged row

    def _dropped_shot(self, data: QMimeData) -> str | None:
        if not self.editable or data is None or not data.hasFormat(SHOT_MIME):
            return None
        try:
            found = json.loads(bytes(data.data(SHOT_MIME)).decode())
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(found, dict) or found.get("run_id") != self.run_id:
            return None
        shot_id = found.get("shot_id")
        return shot_id if shot_id in self._rows else None

    def _tooltip(self, shot: Shot) -> str:
        tip = (f"{shot.number} · {shot_type_text(shot.shot_type)} · {shot.camera}\n"
               f"{shot.description}")
        if shot.stale:
            tip += "\n\n" + self.tr("Stale: %1. Its image was made before that change; "
                                     "“Regenerate stale shots” renders it again with the "
                                     "same seed.").replace("%1", stale_reason_text(shot.stale))
        if shot.versions:
            tip += "\n" + self.tr("%1 earlier versions (open the shot to use one)").replace(
                "%1", str(len(shot.versions)))
        if not shot.error:
            return tip
        status = status_text(shot, None)  # "failed: <the reason>", "waiting to retry"…
        if shot.error not in status and shot.error != CANCELLED_REASON:
            status += f"\n{shot.error}"  # the core's reason, as it wrote it (English)
        return f"{tip}\n\n{status}"

    def _reindex(self) -> None:
        self._rows = {s.shot_id: i for i, s in enumerate(self._shots)}
        self._by_image = {s.image.key: s.shot_id for s in self._shots if s.image is not None}

    def _image_arrived(self, key: str) -> None:
        shot_id = self._by_image.get(key)
        if shot_id is not None:
            self._changed(shot_id)

    def _tick(self) -> None:
        now = time.monotonic()
        for shot_id, started in self._started.items():
            second = int(now - started)
            if self._shown_s.get(shot_id) != second:
                self._shown_s[shot_id] = second
                self._changed(shot_id)

    def _update_ticker(self) -> None:
        if self._started and not self._ticker.isActive():
            self._ticker.start()
        elif not self._started and self._ticker.isActive():
            self._ticker.stop()


__all__ = ["GalleryView", "ShotDelegate", "ShotModel", "card_status_text", "stale_reason_text",
           "status_text"]


class ShotDelegate(QStyledItemDelegate):
    """Paints one card: image (or a placeholder) above, words below."""

    PAD = 6  # between cards, on every side
    TEXT_LINES = 4  # heading, two of description, status
    FRAME_BUDGET_S = 0.003  # drawing new cards, per paint

    CARD_BUDGET = 24 * 1024 * 1024  # bytes of card pixmaps kept (some 80 cards)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card_width = 280
        self.aspect = 16 / 9
        # Painting must stay cheap with shots landing by the hundred and a person scrolling
        # a board of thousands: each card is drawn once per look into a pixmap, then copied;
        # description lines are wrapped once per width.
        self._cards: OrderedDict[str, tuple[Shot, tuple, QPixmap]] = OrderedDict()
        self._card_bytes = 0
        # Drawing a card afresh costs about a millisecond: a jump into a long board has
        # twenty to draw. Each paint draws new cards for FRAME_BUDGET_S at most, shows the
        # others as bare frames and draws them in the next frames (``progressive``).
        self.progressive = True
        self.background = QColor("white")  # the view's, under the cards' round corners
        self._frame_spent = 0.0
        self._late: list[QPersistentModelIndex] = []
        self._late_timer = QTimer(self, singleShot=True, interval=0)
        self._late_timer.timeout.connect(self._draw_late)
        self._lines: OrderedDict[tuple[str, int], list[str]] = OrderedDict()
        self._durations: OrderedDict[tuple, QPixmap] = OrderedDict()  # duration badges

    def card_size(self, option_font: QFont) -> QSize:
        line = QFontMetrics(option_font).lineSpacing()
        image_h = round((self.card_width - 2 * self.PAD) / self.aspect)
        return QSize(self.card_width, image_h + 2 * self.PAD + 20 + self.TEXT_LINES * line + 6)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return self.card_size(option.font)

    @property
    def cached_card_bytes(self) -> int:
        return self._card_bytes

    def clear_cards(self) -> None:
        self._cards.clear()
        self._card_bytes = 0

    @property
    def drawing_later(self) -> int:
        """Cards shown as bare frames, to be drawn in a coming frame."""
        return len(self._late)

    def has_card(self, shot: Shot) -> bool:
        """Whether the card of this very state of ``shot`` is drawn and kept."""
        entry = self._cards.get(shot.shot_id)
        return entry is not None and entry[0] is shot

    def begin_frame(self, background: QColor) -> None:
        """A paint of the view starts: a fresh budget for drawing new cards."""
        self._frame_spent = 0.0
        self.background = background

    def _draw_late(self) -> None:
        view, late = self.parent(), self._late
        self._late = []
        if isinstance(view, QAbstractItemView):
            for index in late:
                if index.isValid():
                    view.update(QModelIndex(index))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        rect = option.rect
        if rect.isEmpty():  # a row the filter bar hides, as QListView asks now and then
            return  # (before ``card``, which asks for the image of the shot it gives)
        model = index.model()
        if isinstance(model, ShotModel):  # one call, not a role at a time through Qt
            card = model.card(index.row())
            if card is None:
                return
            shot, image, elapsed = card
        else:
            shot, image, elapsed = (index.data(ShotRole), index.data(ImageRole),
                                    index.data(ElapsedRole))
            if shot is None:
                return
        if image is not None and image.isNull():
            image = None
        error = bool(index.data(ImageErrorRole)) if (
            image is None and shot.status is ShotStatus.DONE) else False
        status = card_status_text(shot, elapsed)
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        state = option.state
        look = (image.cacheKey() if image is not None else None, error, status,
                rect.width(), rect.height(), dpr, self.aspect,
                bool(state & QStyle.StateFlag.State_Selected),
                bool(state & QStyle.StateFlag.State_MouseOver),
                option.palette.cacheKey(), option.font.key(), self.background.rgba())
        entry = self._cards.get(shot.shot_id)
        if entry is not None and entry[0] is shot and entry[1] == look:
            self._cards.move_to_end(shot.shot_id)
            painter.drawPixmap(rect.topLeft(), entry[2])
            return
        if self.progressive and self._frame_spent > self.FRAME_BUDGET_S:  # one at least
            self._bare_card(painter, option)  # drawn in full in a coming frame
            self._late.append(QPersistentModelIndex(index))
            if not self._late_timer.isActive():
                self._late_timer.start()
            return
        started = time.perf_counter()
        pixmap = QPixmap(round(rect.width() * dpr), round(rect.height() * dpr))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(self.background)  # opaque: each paint after this one is a plain copy
        card_painter = QPainter(pixmap)
        card_option = QStyleOptionViewItem(option)
        card_option.rect = QRect(0, 0, rect.width(), rect.height())
        self.paint_card(card_painter, card_option, shot, image, error, status)
        card_painter.end()
        painter.drawPixmap(rect.topLeft(), pixmap)
        self._frame_spent += time.perf_counter() - started
        if entry is not None:
            self._card_bytes -= _bytes(entry[2])
        self._cards[shot.shot_id] = (shot, look, pixmap)
        self._cards.move_to_end(shot.shot_id)
        self._card_bytes += _bytes(pixmap)
        while self._card_bytes > self.CARD_BUDGET and len(self._cards) > 1:
            _, (_, _, old) = self._cards.popitem(last=False)
            self._card_bytes -= _bytes(old)

    def _bare_card(self, painter: QPainter, option: QStyleOptionViewItem) -> None:
        """The frame of a card not drawn yet: its outline and an empty image."""
        palette: QPalette = option.palette
        card = QRectF(option.rect).adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Midlight)))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(card, 8, 8)
        painter.fillRect(QRectF(card.left() + 1, card.top() + 8, card.width() - 2,
                                (card.width() - 2) / self.aspect - 8),
                         palette.color(QPalette.ColorRole.AlternateBase))
        painter.restore()

    def paint_card(self, painter: QPainter, option: QStyleOptionViewItem, shot: Shot,
                   image: QImage | None, error: bool, status: str) -> None:
        """Draw the card of ``shot`` in ``option.rect``."""
        palette: QPalette = option.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setFont(option.font)
        card = QRectF(option.rect).adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        stale = bool(shot.stale) and shot.status is ShotStatus.DONE
        border = palette.color(QPalette.ColorRole.Highlight) if selected else (
            QColor(STALE_COLOR) if stale else
            palette.color(QPalette.ColorRole.Mid) if hovered else
            palette.color(QPalette.ColorRole.Midlight))
        painter.setPen(QPen(border, 2) if stale or selected else QPen(border))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(card, 8, 8)

        image_rect = QRectF(round(card.left()) + 1, round(card.top()) + 1,
                            round(card.width()) - 2, round((card.width() - 2) / self.aspect))
        if image is not None:
            painter.drawPixmap(image_rect.topLeft(), self._rounded(
                image, image_rect.size(), palette.color(QPalette.ColorRole.Base)))
        else:
            clip = QPainterPath()
            clip.addRoundedRect(image_rect, 7, 7)
            painter.save()
            painter.setClipPath(clip)
            self._placeholder(painter, image_rect, shot, error, palette)
            painter.restore()
        self._badge(painter, image_rect, shot.number)
        self._duration_badge(painter, image_rect, shot)
        if stale:
            self._stale_badge(painter, image_rect)

        self._words(painter, card, image_rect, shot, status, option, palette)
        painter.restore()

    def _rounded(self, image: QImage, size: QSizeF, corners: QColor) -> QPixmap:
        """``image`` cropped to fill ``size`` with rounded corners on the card's colour
        (drawn once per card look: the card's pixmap is what is kept)."""
        w, h = round(size.width()), round(size.height())
        pixmap = QPixmap(w, h)
        pixmap.fill(corners)
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        clip = QPainterPath()
        clip.addRoundedRect(QRectF(0, 0, w, h), 7, 7)
        p.setClipPath(clip)
        p.drawImage(QRectF(0, 0, w, h), image, _cover(image.size(), QRectF(0, 0, w, h)))
        p.end()
        return pixmap

    def _wrapped(self, text: str, metrics: QFontMetrics, width: int) -> list[str]:
        key = (text, width)
        lines = self._lines.get(key)
        if lines is None:
            lines = self._lines[key] = wrap(text, metrics, width, lines=2)
            while len(self._lines) > 2000:
                self._lines.popitem(last=False)
        return lines

    def _placeholder(self, painter: QPainter, rect: QRectF, shot: Shot, error: bool,
                     palette: QPalette) -> None:
        base = palette.color(QPalette.ColorRole.AlternateBase)
        painter.fillRect(rect, base)
        color = QColor(STATUS_COLORS[shot.status])
        if shot.status is ShotStatus.DONE:
            text = self.tr("image unavailable") if error else self.tr("loading image…")
        elif shot.status is ShotStatus.RENDERING:
            text = self.tr("rendering…")
        else:
            text = shot_status_word(shot.status)
        if shot.status in (ShotStatus.FAILED, ShotStatus.RENDERING):
            tint = QColor(color)
            tint.setAlpha(28)
            painter.fillRect(rect, tint)
        painter.setPen(color if shot.status is not ShotStatus.QUEUED else
                       palette.color(QPalette.ColorRole.PlaceholderText))
        painter.setFont(_scaled(painter.font(), 1.1))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _badge(self, painter: QPainter, image_rect: QRectF, number: str) -> None:
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        metrics = QFontMetrics(font)
        badge = QRectF(image_rect.left() + 8, image_rect.top() + 8,
                       metrics.horizontalAdvance(number) + 14, metrics.height() + 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(badge, 5, 5)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, number)

    def _duration_badge(self, painter: QPainter, image_rect: QRectF, shot: Shot) -> None:
        """How long the shot is held, in the image's bottom right corner: drawn once per
        duration and font (a board has few distinct ones), then copied."""
        font = painter.font()
        seconds = shot_duration(shot)
        key = (seconds, font.key())
        badge = self._durations.get(key)
        if badge is None:
            text = duration_text(seconds)
            metrics = QFontMetrics(font)
            badge = QPixmap(metrics.horizontalAdvance(text) + 12, metrics.height() + 2)
            badge.fill(Qt.GlobalColor.transparent)
            p = QPainter(badge)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setFont(font)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(0, 0, 0, 150))
            p.drawRoundedRect(QRectF(badge.rect()), 5, 5)
            p.setPen(QColor("white"))
            p.drawText(badge.rect(), Qt.AlignmentFlag.AlignCenter, text)
            p.end()
            self._durations[key] = badge
            while len(self._durations) > 2000:
                self._durations.popitem(last=False)
        painter.drawPixmap(round(image_rect.right()) - 8 - badge.width(),
                           round(image_rect.bottom()) - 8 - badge.height(), badge)

    def _stale_badge(self, painter: QPainter, image_rect: QRectF) -> None:
        """An amber "stale" tag in the image's top right corner."""
        text = self.tr("stale")
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        metrics = QFontMetrics(font)
        width = metrics.horizontalAdvance(text) + 14
        badge = QRectF(image_rect.right() - 8 - width, image_rect.top() + 8, width,
                       metrics.height() + 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(STALE_COLOR))
        painter.drawRoundedRect(badge, 5, 5)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    def _words(self, painter: QPainter, card: QRectF, image_rect: QRectF, shot: Shot,
               status: str, option: QStyleOptionViewItem, palette: QPalette) -> None:
        font = QFont(option.font)
        metrics = QFontMetrics(font)
        line = metrics.lineSpacing()
        left = round(card.left() + 10)
        width = round(card.width() - 20)
        y = round(image_rect.bottom() + 8)

        heading = QFont(font)
        heading.setBold(True)
        painter.setFont(heading)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        title = f"{shot.number}  ·  {shot_type_text(shot.shot_type)}"
        if shot.camera and shot.camera != "static":
            title += f"  ·  {shot.camera}"
        painter.drawText(QRect(left, y, width, line), Qt.AlignmentFlag.AlignLeft,
                         QFontMetrics(heading).elidedText(title, Qt.TextElideMode.ElideRight,
                                                          width))
        y += line + 2

        painter.setFont(font)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        for text in self._wrapped(shot.description, metrics, width):
            painter.drawText(QRect(left, y, width, line), Qt.AlignmentFlag.AlignLeft, text)
            y += line
        y += 4

        stale = bool(shot.stale) and shot.status is ShotStatus.DONE
        color = QColor(STALE_COLOR if stale else STATUS_COLORS[shot.status])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        dot = 8
        painter.drawEllipse(QRectF(left, y + (line - dot) / 2, dot, dot))
        painter.setPen(color if stale or shot.status is ShotStatus.FAILED else
                       palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(QRect(left + dot + 6, y, width - dot - 6, line),
                         Qt.AlignmentFlag.AlignLeft,
                         metrics.elidedText(status, Qt.TextElideMode.ElideRight,
                                            width - dot - 6))


def _bytes(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)


def _scaled(font: QFont, factor: float) -> QFont:
    font = QFont(font)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * factor)
    elif font.pixelSize() > 0:
        font.setPixelSize(round(font.pixelSize() * factor))
    return font


def _cover(size: QSize, target: QRectF) -> QRectF:
    """The part of an image of ``size`` that fills ``target`` without distortion (centred)."""
    if size.width() <= 0 or size.height() <= 0:
        return QRectF()
    scale = max(target.width() / size.width(), target.height() / size.height())
    w, h = target.width() / scale, target.height() / scale
    return QRectF((size.width() - w) / 2, (size.height() - h) / 2, w, h)


def wrap(text: str, metrics: QFontMetrics, width: int, *, lines: int) -> list[str]:
    """Word-wrap ``text`` to at most ``lines`` lines of ``width`` pixels; elide the last."""
    words = text.split()
    out: list[str] = []
    current = ""
    for i, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if metrics.horizontalAdvance(candidate) <= width or not current:
            current = candidate
            continue
        out.append(current)
        current = word
        if len(out) == lines - 1:
            rest = " ".join([current, *words[i + 1:]])
            out.append(metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width))
            return out
    if current:
        out.append(metrics.elidedText(current, Qt.TextElideMode.ElideRight, width))
    return out[:lines]


class GalleryView(QListView):
    """A responsive grid of shot cards; an empty state when there is nothing to show."""

    shot_activated = Signal(object)  # Shot
    MIN_CARD = 250
    LAYOUT_BATCH = 200

    def __init__(self, model: ShotModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gallery")
        self.delegate = ShotDelegate(self)
        self.setModel(model)
        self.setItemDelegate(self.delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        # A feature's board (2000 cards) is laid out 200 cards per turn of the event loop,
        # not in one go (~12 ms on a free core): the first screen shows at once.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(self.LAYOUT_BATCH)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMouseTracking(True)
        # Cards are dragged to another place; the model turns a drop into a board edit
        # (after setMovement: a Static movement turns dragging and dropping off).
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)  # Movement.Static turned it off
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.empty_text = self.tr("Your storyboard appears here.\n\nType an idea above and press "
                                  "Generate, or drop idea files onto the window.")
        self.no_match_text = self.tr("No shot matches these filters.")
        self.filtered_empty = False  # set by the filter bar: every card is filtered out
        self.activated.connect(self._activate)
        self.doubleClicked.connect(self._activate)
        model.modelReset.connect(self._fit)

    def shot_model(self) -> ShotModel:
        return self.model()  # type: ignore[return-value]

    def finish_layout(self) -> None:
        """Lay out every card now (a layout in batches may still be under way): before
        scrolling to a card far down a long board."""
        if self.model() is None or self.model().rowCount() <= self.LAYOUT_BATCH:
            return  # one batch: laid out in one go already
        self.setLayoutMode(QListView.LayoutMode.SinglePass)
        try:
            self.doItemsLayout()
        finally:
            self.setLayoutMode(QListView.LayoutMode.Batched)

    def _activate(self, index: QModelIndex) -> None:
        shot = index.data(ShotRole)
        if shot is not None:
            self.shot_activated.emit(shot)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Choose the number of columns for the width, then the card size that fills it."""
        # The width QListView lays items out in: it always keeps the style's scroll bar
        # extent free in this flow (QListViewPrivate::prepareItemsLayout).
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None,
                                             self.verticalScrollBar())
        available = max(self.MIN_CARD, self.maximumViewportSize().width() - scrollbar - 1)
        aspect = self.shot_model().aspect  # portrait frames: narrower cards, more of them
        narrowest = self.MIN_CARD if aspect >= 1 else max(150, round(self.MIN_CARD * aspect ** .5))
        columns = max(1, available // narrowest)
        self.delegate.aspect = self.shot_model().aspect
        self.delegate.card_width = available // columns
        size = self.delegate.card_size(self.font())
        if self.gridSize() != size:
            self.setGridSize(size)

    def paintEvent(self, event) -> None:
        empty = self.model() is not None and self.model().rowCount() == 0
        if empty or self.filtered_empty:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.setFont(_scaled(painter.font(), 1.15))
            painter.drawText(self.viewport().rect().adjusted(40, 40, -40, -40),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.empty_text if empty else self.no_match_text)
            return
        viewport = self.viewport()
        self.delegate.begin_frame(viewport.palette().color(viewport.backgroundRole()))
        super().paintEvent(event)
