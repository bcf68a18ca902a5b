"""One shot, large: its image and earlier versions, prompt, seed, timings and job id.

From here a failed shot is retried, or any shot regenerated with a new seed or
an edited prompt (the pipeline keeps the current image as a previous version).
The dialog is non-modal and follows the shot live while it renders again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPalette
from PySide6.QtWidgets import (
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
    QVBoxLayout,
    QWidget,
)

from app.core.models import ImageRef, Shot, ShotStatus
from app.ui.gallery import STATUS_COLORS, status_text
from app.ui.ops import Ops
from app.ui.statuses import decimal, shot_type_text
from app.ui.thumbnails import LARGE_SIZE, load_image

if TYPE_CHECKING:
    from app.core.services import Services

MAX_SEED = 2**31 - 1


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

        self.image = ImageView()
        self.versions = QListWidget(objectName="versions")
        self.versions.setFlow(QListWidget.Flow.LeftToRight)
        self.versions.setFixedHeight(38)
        self.versions.setToolTip(self.tr("This image and the ones it replaced"))
        self.heading = QLabel(objectName="detailHeading")
        self.status = QLabel(wordWrap=True)
        self.description = QLabel(wordWrap=True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dialogue = QLabel(wordWrap=True)
        self.prompt = QPlainTextEdit(objectName="promptEdit")
        self.prompt.setMinimumHeight(96)
        self.prompt.setMaximumHeight(180)
        self.seed = QSpinBox(minimum=0, maximum=MAX_SEED)
        self.new_seed = QPushButton(self.tr("New seed"))
        self.timings = QLabel(wordWrap=True)
        self.job = QLabel()
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
        left = QVBoxLayout()
        left.addWidget(self.image, 1)
        left.addWidget(self.versions)
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
        self.resize(1080, 560)
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
        self.status.setText(f'<span style="color:{color}">●</span> '
                            f"{status_text(shot, None)}")
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

    def _fill_versions(self) -> None:
        self.versions.blockSignals(True)
        self.versions.clear()
        for n, version in enumerate(self.shot.versions, 1):
            item = QListWidgetItem(self.tr("v%1").replace("%1", str(n)))
            item.setData(Qt.ItemDataRole.UserRole, version.image)
            item.setToolTip(self.tr("Seed %1").replace("%1", str(version.seed)))
            self.versions.addItem(item)
        current = QListWidgetItem(self.tr("current"))
        current.setData(Qt.ItemDataRole.UserRole, self.shot.image)
        self.versions.addItem(current)
        self.versions.setCurrentRow(self.versions.count() - 1)
        self.versions.setVisible(bool(self.shot.versions))
        self.versions.blockSignals(False)
        self._show(self.shot.image)

    def _version_chosen(self, row: int) -> None:
        item = self.versions.item(row)
        if item is not None:
            self._show(item.data(Qt.ItemDataRole.UserRole))

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
