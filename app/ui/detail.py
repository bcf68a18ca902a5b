"""One shot, large: its image and earlier versions, prompt, seed, timings and job id.

From here a failed shot is retried, or any shot regenerated with a new seed or
an edited prompt (the pipeline keeps the current image as a previous version),
or an earlier version made the shot's image again ("Use this version"; the
current one becomes a version in its place). The dialog is non-modal and
follows the shot live while it renders again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.core.models import ImageRef, Shot, ShotStatus, ShotVersion
from app.ui.gallery import STALE_COLOR, STATUS_COLORS, stale_reason_text, status_text
from app.ui.ops import Ops
from app.ui.statuses import date_time_text, decimal, shot_type_text
from app.ui.thumbnails import LARGE_SIZE, load_image

if TYPE_CHECKING:
    from app.core.services import Services

MAX_SEED = 2**31 - 1
VERSION_ICON = QSize(128, 72)
CURRENT = -1  # the versions list's key of the current image


class ImageView(QWidget):
    """Paints one image scaled to fit, or a line of text where there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.text = ""
        self.setMinimumSize(QSize(480, 270))

    def show_image(self, image: QImage | None, text: str = "") -> None:
        self.image, self.text = image, text
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.AlternateBase))
        if self.image is not None and not self.image.isNull():
            size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            x = (self.width() - size.width()) / 2
            y = (self.height() - size.height()) / 2
            painter.drawImage(QRectF(x, y, size.width(), size.height()), self.image)
        else:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.text)


def timings_text(timings: dict[str, float]) -> str:
    translate = QCoreApplication.translate
    # The draft renderer's keys, then the RunPod renderer's (the worker's own, RunPod's
    # queue and execution time, the GPU time of failed attempts), then the pipeline's.
    names = {"load_s": translate("ShotDetailDialog", "load"),
             "render_s": translate("ShotDetailDialog", "render"),
             "upload_s": translate("ShotDetailDialog", "upload"),
             "worker_load_s": translate("ShotDetailDialog", "load"),
             "worker_render_s": translate("ShotDetailDialog", "render"),
             "encode_s": translate("ShotDetailDialog", "encode"),
             "worker_encode_s": translate("ShotDetailDialog", "encode"),
             "worker_upload_s": translate("ShotDetailDialog", "upload"),
             "gpu_s": translate("ShotDetailDialog", "GPU"),
             "failed_gpu_s": translate("ShotDetailDialog", "GPU of failed attempts"),
             "delay_s": translate("ShotDetailDialog", "queue"),
             "queue_s": translate("ShotDetailDialog", "queue"),
             "wall_s": translate("ShotDetailDialog", "total")}
    parts = [f"{names.get(k, k.removesuffix('_s'))} {decimal(v, 2)} s" for k, v in timings.items()]
    return " · ".join(parts) or "—"


class ShotDetailDialog(QDialog):
    retry_requested = Signal(str, str)  # run id, shot id
    regenerate_requested = Signal(str, str, object, object)  # run id, shot id, seed, prompt
    pick_requested = Signal(str, str, int)  # run id, shot id, attempt of an earlier version

    def __init__(self, shot: Shot, ops: Ops, services: Callable[[], Services], *,
                 run_active: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shotDetail")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.ops, self._services = ops, services
        self.shot = shot
        self.run_active = run_active
        self._shown_key: str | None = None
        self._prompt_shown, self._seed_shown = "", 0  # what update_shot last put in the fields
        self._icons: dict[str, QIcon] = {}  # image key -> its small picture, once loaded
        self._picking = False  # "Use this version" pressed, the shot not updated yet

        self.image = ImageView()
        self.versions = QListWidget(objectName="versions")
        self.versions.setViewMode(QListWidget.ViewMode.IconMode)
        self.versions.setFlow(QListWidget.Flow.LeftToRight)
        self.versions.setWrapping(False)
        self.versions.setMovement(QListWidget.Movement.Static)
        self.versions.setIconSize(VERSION_ICON)
        self.versions.setGridSize(QSize(VERSION_ICON.width() + 16, VERSION_ICON.height()
                                        + self.fontMetrics().lineSpacing() + 14))
        self.versions.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.versions.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.versions.setFixedHeight(self.versions.gridSize().height() + scrollbar + 8)
        self.versions.setToolTip(self.tr("This image and the ones it replaced: pick one to "
                                         "see it"))
        self.version_info = QLabel(wordWrap=True, objectName="versionInfo",
                                   textFormat=Qt.TextFormat.PlainText)
        self.version_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.version_prompt = QPlainTextEdit(readOnly=True, objectName="versionPrompt")
        self.version_prompt.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 16)
        self.version_prompt.setToolTip(self.tr("The prompt this version was drawn from"))
        self.use_version = QPushButton(self.tr("&Use this version"))
        self.use_version.setToolTip(self.tr(
            "Make the version shown the shot's image; the current one is kept as a version"))
        self.heading = QLabel(objectName="detailHeading", textFormat=Qt.TextFormat.PlainText)
        self.status = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.description = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dialogue = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.prompt = QPlainTextEdit(objectName="promptEdit")
        self.prompt.setMinimumHeight(96)
        self.prompt.setMaximumHeight(180)
        self.seed = QSpinBox(minimum=0, maximum=MAX_SEED)
        self.new_seed = QPushButton(self.tr("New seed"))
        self.timings = QLabel(wordWrap=True)
        self.job = QLabel(textFormat=Qt.TextFormat.PlainText)
        self.job.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.new_seed)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow(self.tr("Status"), self.status)
        form.addRow(self.tr("Shot"), self.description)
        form.addRow(self.tr("Dialogue"), self.dialogue)
        form.addRow(self.tr("Prompt"), self.prompt)
        form.addRow(self.tr("Seed"), seed_row)
        form.addRow(self.tr("Timings"), self.timings)
        form.addRow(self.tr("Job"), self.job)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.retry = self.buttons.addButton(self.tr("Retry"),
                                            QDialogButtonBox.ButtonRole.ActionRole)
        self.regenerate = self.buttons.addButton(self.tr("Regenerate"),
                                                 QDialogButtonBox.ButtonRole.ActionRole)
        self.regenerate.setToolTip(self.tr(
            "Render again with a new seed, or with the seed and prompt set here; the current "
            "image is kept as a previous version"))
        version_row = QHBoxLayout()
        version_row.addWidget(self.version_info, 1)
        version_row.addWidget(self.use_version, 0, Qt.AlignmentFlag.AlignTop)
        self.versions_box = QWidget()
        versions_layout = QVBoxLayout(self.versions_box)
        versions_layout.setContentsMargins(0, 0, 0, 0)
        versions_layout.addWidget(self.versions)
        versions_layout.addLayout(version_row)
        versions_layout.addWidget(self.version_prompt)
        left = QVBoxLayout()
        left.addWidget(self.image, 1)
        left.addWidget(self.versions_box)
        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addLayout(form)
        right.addStretch(1)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)

        self.buttons.rejected.connect(self.close)
        self.retry.clicked.connect(self._retry)
        self.regenerate.clicked.connect(self._regenerate)
        self.new_seed.clicked.connect(lambda: self.seed.setValue(random.randrange(MAX_SEED)))
        self.versions.currentRowChanged.connect(self._version_chosen)
        self.use_version.clicked.connect(self._use_version)
        self.resize(1080, 640)
        self.update_shot(shot)

    # Following the shot.

    def update_shot(self, shot: Shot) -> None:
        if shot.shot_id != self.shot.shot_id or shot.run_id != self.shot.run_id:
            return
        prompt_edited = self.prompt.toPlainText() != self._prompt_shown
        seed_edited = self.seed.value() != self._seed_shown
        self.shot = shot
        self.setWindowTitle(self.tr("Shot %1").replace("%1", shot.number))
        self.heading.setText(f"{shot.number}  ·  {shot_type_text(shot.shot_type)}  ·  "
                             f"{shot.camera}")
        color = STATUS_COLORS[shot.status]
        status = f'<span style="color:{color}">●</span> {_esc(status_text(shot, None))}'
        if shot.stale:
            stale = self.tr("Stale: %1. “Regenerate stale shots” in the run view renders it "
                            "again with the change and this seed.").replace(
                "%1", stale_reason_text(shot.stale))
            status += f'<br><span style="color:{STALE_COLOR}">{_esc(stale)}</span>'
        self.status.setText(status)
        self.description.setText(shot.description)
        self.dialogue.setText(shot.dialogue or "—")
        if not prompt_edited:  # never overwrite what the person is typing
            self.prompt.setPlainText(shot.prompt)
            self._prompt_shown = shot.prompt
        if not seed_edited:
            self.seed.setValue(shot.seed)
            self._seed_shown = shot.seed
        self.timings.setText(timings_text(shot.timings))
        attempts = self.tr("attempt %1").replace("%1", str(shot.attempts))
        self.job.setText(f"{shot.job_id or '—'}  ·  {attempts}")
        self._picking = False
        self._fill_versions()
        self.set_run_active(self.run_active)

    def set_run_active(self, active: bool) -> None:
        self.run_active = active
        rendering = self.shot.status in (ShotStatus.RENDERING, ShotStatus.QUEUED)
        self.retry.setVisible(self.shot.status in (ShotStatus.FAILED, ShotStatus.CANCELLED))
        self.retry.setEnabled(not active)
        self.regenerate.setEnabled(not active and not rendering)
        why = self.tr("Wait until the run has finished") if active else ""
        self.retry.setToolTip(why)
        self._update_use_version()

    # The versions: the current image and the earlier ones, in the order they were made.

    def current_attempt(self) -> int:
        return self.shot.image_attempt or self.shot.attempts

    def _fill_versions(self) -> None:
        self.versions.blockSignals(True)
        self.versions.clear()
        entries: list[tuple[int, ImageRef | None, ShotVersion | None]] = [
            (v.attempt, v.image, v) for v in self.shot.versions]
        if self.shot.image is not None:
            entries.append((self.current_attempt(), self.shot.image, None))
        for attempt, ref, version in sorted(entries, key=lambda e: e[0]):
            text = self.tr("v%1").replace("%1", str(attempt))
            if version is None:
                text = self.tr("v%1 · current").replace("%1", str(attempt))
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, CURRENT if version is None else attempt)
            item.setData(Qt.ItemDataRole.UserRole + 1, ref)
            item.setData(Qt.ItemDataRole.UserRole + 2,
                         self.shot.prompt if version is None else version.prompt)
            item.setToolTip(self._version_text(attempt, version))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self._icon(item, ref)
            self.versions.addItem(item)
            if version is None:
                self.versions.setCurrentItem(item)
        if self.shot.image is None and self.versions.count():
            self.versions.setCurrentRow(-1)
        self.versions_box.setVisible(bool(self.shot.versions))
        self.versions.blockSignals(False)
        self._version_chosen(self.versions.currentRow())
        if self.shot.image is None:
            self._show(None)

    def _version_text(self, attempt: int, version: ShotVersion | None) -> str:
        """What a version is: its attempt, seed, and when it was set aside."""
        if version is None:
            return self.tr("Version %1, the current image · seed %2").replace(
                "%1", str(attempt)).replace("%2", str(self.shot.seed))
        return self.tr("Version %1 · seed %2 · replaced %3").replace(
            "%1", str(attempt)).replace("%2", str(version.seed)).replace(
            "%3", date_time_text(version.created_at))

    def _icon(self, item: QListWidgetItem, ref: ImageRef | None) -> None:
        if ref is None:
            return
        icon = self._icons.get(ref.key)
        if icon is not None:
            item.setIcon(icon)
            return
        placeholder = QPixmap(VERSION_ICON)
        placeholder.fill(self.palette().color(QPalette.ColorRole.AlternateBase))
        item.setIcon(QIcon(placeholder))
        self.ops.start(load_image(self._services(), ref, VERSION_ICON * 2),
                       what=self.tr("Loading a version's picture"), parent=self,
                       success=lambda image, key=ref.key: self._icon_loaded(key, image),
                       failure=lambda _exc: None)  # the large view says why, if chosen

    def _icon_loaded(self, key: str, image: QImage) -> None:
        self._icons[key] = icon = QIcon(QPixmap.fromImage(image))
        for row in range(self.versions.count()):
            item = self.versions.item(row)
            ref = item.data(Qt.ItemDataRole.UserRole + 1)
            if ref is not None and ref.key == key:
                item.setIcon(icon)

    def chosen_attempt(self) -> int | None:
        """The attempt of the earlier version on show; None for the current image."""
        item = self.versions.currentItem()
        if item is None or item.data(Qt.ItemDataRole.UserRole) == CURRENT:
            return None
        return item.data(Qt.ItemDataRole.UserRole)

    def _version_chosen(self, row: int) -> None:
        self._picking = False
        item = self.versions.item(row)
        if item is not None:
            self._show(item.data(Qt.ItemDataRole.UserRole + 1))
            self.version_info.setText(item.toolTip())
            self.version_prompt.setPlainText(item.data(Qt.ItemDataRole.UserRole + 2))
        else:
            self.version_info.setText("")
            self.version_prompt.setPlainText("")
        self._update_use_version()

    def _update_use_version(self) -> None:
        if not hasattr(self, "use_version"):
            return
        earlier = self.chosen_attempt() is not None
        busy = self.run_active or self.shot.status in (ShotStatus.RENDERING, ShotStatus.QUEUED)
        self.use_version.setEnabled(earlier and not busy and not self._picking)
        self.use_version.setToolTip(
            self.tr("Wait until the run has finished") if earlier and busy else
            self.tr("Make the version shown the shot's image; the current one is kept as a "
                    "version") if earlier else
            self.tr("This is the current image: pick an earlier version above"))

    def _use_version(self) -> None:
        attempt = self.chosen_attempt()
        if attempt is None or not self.use_version.isEnabled():
            return
        self._picking = True
        self._update_use_version()
        self.pick_requested.emit(self.shot.run_id, self.shot.shot_id, attempt)

    def _show(self, ref: ImageRef | None) -> None:
        if ref is None:
            self._shown_key = None
            text = {ShotStatus.RENDERING: self.tr("Rendering…"),
                    ShotStatus.QUEUED: self.tr("Queued"),
                    ShotStatus.FAILED: self.tr("No image: the shot failed"),
                    ShotStatus.CANCELLED: self.tr("No image: the shot was cancelled")}
            self.image.show_image(None, text.get(self.shot.status, ""))
            return
        if ref.key == self._shown_key:
            return
        self._shown_key = ref.key
        self.image.show_image(None, self.tr("Loading image…"))
        self.ops.start(load_image(self._services(), ref, LARGE_SIZE),
                       what=self.tr("Loading the shot image"), parent=self,
                       success=lambda image, key=ref.key: self._loaded(key, image),
                       failure=lambda exc: self.image.show_image(None, self.tr(
                           "Image unavailable: %1").replace("%1", str(exc))))

    def _loaded(self, key: str, image: QImage) -> None:
        if key == self._shown_key:
            self.image.show_image(image)

    # Acting.

    def _retry(self) -> None:
        self.retry_requested.emit(self.shot.run_id, self.shot.shot_id)
        self.set_run_active(True)

    def _regenerate(self) -> None:
        prompt = self.prompt.toPlainText().strip()
        seed = self.seed.value()
        self._prompt_shown, self._seed_shown = self.prompt.toPlainText(), seed
        self.regenerate_requested.emit(
            self.shot.run_id, self.shot.shot_id,
            seed if seed != self.shot.seed else None,
            prompt if prompt and prompt != self.shot.prompt.strip() else None)
        self.set_run_active(True)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
