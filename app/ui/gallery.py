"""The shot gallery: a model of the run's shots and a view that paints them as cards.

Model/view, so that 500 shots are 500 rows of data and a delegate that paints
the visible ones, not 500 widgets. Shots stay in story order; each card shows
the shot number, type and camera, the description, and the status (queued,
rendering with its elapsed time, done, failed with the reason). Images come
from the ``ThumbnailLoader``: requested the moment a live shot lands, or when
a card first needs painting.
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
    if reason == "new shot, not drawn yet":  # app.core.board: a shot added on the board
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
        if live and shot.status is ShotStatus.DONE:
            self.thumbnails.request(shot.image)
        index = self.index(row)
        self.dataChanged.emit(index, index)
        self._update_ticker()

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
            index = self.index(self._rows[shot_id])
            self.dataChanged.emit(index, index, [ImageRole])

    def _tick(self) -> None:
        now = time.monotonic()
        for shot_id, started in self._started.items():
            second = int(now - started)
            if self._shown_s.get(shot_id) != second:
                self._shown_s[shot_id] = second
                index = self.index(self._rows[shot_id])
                self.dataChanged.emit(index, index, [ElapsedRole])

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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card_width = 280
        self.aspect = 16 / 9
        # Painting must stay cheap with 100 shots landing: images are scaled and rounded
        # once per size (then blitted 1:1), description lines wrapped once per width.
        self._pixmaps: OrderedDict[tuple[int, int, int, int], QPixmap] = OrderedDict()
        self._lines: OrderedDict[tuple[str, int], list[str]] = OrderedDict()
        self._durations: OrderedDict[tuple, QPixmap] = OrderedDict()  # duration badges

    def card_size(self, option_font: QFont) -> QSize:
        line = QFontMetrics(option_font).lineSpacing()
        image_h = round((self.card_width - 2 * self.PAD) / self.aspect)
        return QSize(self.card_width, image_h + 2 * self.PAD + 20 + self.TEXT_LINES * line + 6)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return self.card_size(option.font)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        shot: Shot = index.data(ShotRole)
        if shot is None:
            return
        palette: QPalette = option.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
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
        image = index.data(ImageRole)
        if image is not None and not image.isNull():
            painter.drawPixmap(image_rect.topLeft(), self._rounded(
                image, image_rect.size(), palette.color(QPalette.ColorRole.Base)))
        else:
            clip = QPainterPath()
            clip.addRoundedRect(image_rect, 7, 7)
            painter.save()
            painter.setClipPath(clip)
            self._placeholder(painter, image_rect, shot, index, palette)
            painter.restore()
        self._badge(painter, image_rect, shot.number)
        self._duration_badge(painter, image_rect, shot)
        if stale:
            self._stale_badge(painter, image_rect)

        self._words(painter, card, image_rect, shot, index, option, palette)
        painter.restore()

    def _rounded(self, image: QImage, size: QSizeF, corners: QColor) -> QPixmap:
        """``image`` cropped to fill ``size`` with rounded corners on the card's colour: made
        once per size, opaque, so that each paint is a plain copy."""
        key = (image.cacheKey(), round(size.width()), round(size.height()), corners.rgb())
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        w, h = key[1], key[2]
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
        self._pixmaps[key] = pixmap
        while len(self._pixmaps) > 400:
            self._pixmaps.popitem(last=False)
        return pixmap

    def _wrapped(self, text: str, metrics: QFontMetrics, width: int) -> list[str]:
        key = (text, width)
        lines = self._lines.get(key)
        if lines is None:
            lines = self._lines[key] = wrap(text, metrics, width, lines=2)
            while len(self._lines) > 2000:
                self._lines.popitem(last=False)
        return lines

    def _placeholder(self, painter: QPainter, rect: QRectF, shot: Shot, index: Index,
                     palette: QPalette) -> None:
        base = palette.color(QPalette.ColorRole.AlternateBase)
        painter.fillRect(rect, base)
        color = QColor(STATUS_COLORS[shot.status])
        if shot.status is ShotStatus.DONE:
            error = index.data(ImageErrorRole)
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
        key = (shot.dialogue, shot.duration_s, font.key())
        badge = self._durations.get(key)
        if badge is None:
            text = duration_text(shot_duration(shot))
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
               index: Index, option: QStyleOptionViewItem, palette: QPalette) -> None:
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
        status = card_status_text(shot, index.data(ElapsedRole))
        painter.drawText(QRect(left + dot + 6, y, width - dot - 6, line),
                         Qt.AlignmentFlag.AlignLeft,
                         metrics.elidedText(status, Qt.TextElideMode.ElideRight,
                                            width - dot - 6))


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
        self.activated.connect(self._activate)
        self.doubleClicked.connect(self._activate)
        model.modelReset.connect(self._fit)

    def shot_model(self) -> ShotModel:
        return self.model()  # type: ignore[return-value]

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
        if self.model() is not None and self.model().rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.setFont(_scaled(painter.font(), 1.15))
            painter.drawText(self.viewport().rect().adjusted(40, 40, -40, -40),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.empty_text)
            return
        super().paintEvent(event)
