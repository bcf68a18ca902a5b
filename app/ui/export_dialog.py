"""The export dialog: one run to one file, as PDF, Fountain, ZIP, MP4 animatic or OTIO.

The person picks a format, its options and a file (a name from the run's title
is proposed). The export itself is the core's ``export_run``, started through
``Ops``: drawing, encoding and file I/O run in worker threads and an ffmpeg
process, so the window stays responsive. Its progress feeds the bar; Cancel
stops it, and the core then leaves nothing at the target. An existing file is
replaced only after asking. A failure goes to the error presenter with the
core's reason (and is repeated in the dialog); success closes the dialog with a
message offering "Show in folder".

The run is read again from history when the export starts, so a run opened
from history and the run just finished are exported the same way, as stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QT_TRANSLATE_NOOP, QLocale, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.export import FORMATS as CORE_FORMATS
from app.core.export import ExportError, ExportOptions, export_run, suggested_filename
from app.core.export.base import MAX_COLUMNS
from app.core.models import Run
from app.ui.errors import Action, ErrorPresenter
from app.ui.ops import Ops

if TYPE_CHECKING:
    from app.core.services import Services


@dataclasses.dataclass(frozen=True)
class Choice:
    name: str  # the core's format name
    label: str  # marked for lupdate; translated where shown
    about: str
    options: frozenset[str]  # option rows the format uses


# What the dialog offers, in this order (the core also writes json, for scripts).
CHOICES: tuple[Choice, ...] = (
    Choice("pdf", QT_TRANSLATE_NOOP("ExportDialog", "PDF storyboard"),
           QT_TRANSLATE_NOOP("ExportDialog", "Printable pages: a title page, then the panels "
                             "in a grid with each shot's action and dialogue."),
           frozenset({"paper", "orientation", "columns"})),
    Choice("fountain", QT_TRANSLATE_NOOP("ExportDialog", "Fountain screenplay"),
           QT_TRANSLATE_NOOP("ExportDialog", "The script as plain text, for screenwriting "
                             "apps."), frozenset()),
    Choice("fdx", QT_TRANSLATE_NOOP("ExportDialog", "Final Draft screenplay"),
           QT_TRANSLATE_NOOP("ExportDialog", "The script as a Final Draft file (.fdx), for "
                             "Final Draft, Fade In and other screenwriting apps."),
           frozenset()),
    Choice("screenplay-pdf", QT_TRANSLATE_NOOP("ExportDialog", "Screenplay PDF"),
           QT_TRANSLATE_NOOP("ExportDialog", "The script formatted for print: Courier 12, "
                             "industry margins, a title page, numbered pages."),
           frozenset({"paper"})),
    Choice("zip", QT_TRANSLATE_NOOP("ExportDialog", "ZIP of images"),
           QT_TRANSLATE_NOOP("ExportDialog", "Every image in story order, with the storyboard "
                             "as JSON and the screenplay."), frozenset()),
    Choice("mp4", QT_TRANSLATE_NOOP("ExportDialog", "MP4 animatic"),
           QT_TRANSLATE_NOOP("ExportDialog", "A video of the storyboard: each shot held for "
                             "its duration."), frozenset({"seconds", "captions"})),
    Choice("otio", QT_TRANSLATE_NOOP("ExportDialog", "OTIO timeline"),
           QT_TRANSLATE_NOOP("ExportDialog", "An OpenTimelineIO timeline of the shots, for "
                             "video editors (Resolve, Premiere through a plugin…)."),
           frozenset({"seconds"})),
)
CHOICE = {c.name: c for c in CHOICES}


def target_path(text: str, fmt: str, folder: Path) -> Path | None:
    """The file an export to ``text`` writes: relative paths are taken in ``folder``, and
    a name without a suffix gets the format's, as the core does. None for no text."""
    text = text.strip()
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = folder / path
    return path if path.suffix else path.with_name(path.name + CORE_FORMATS[fmt].suffix)


def swap_suffix(text: str, old: str, new: str) -> str:
    """``text`` with the suffix of format ``old`` replaced by that of ``new``, if it had it."""
    before, after = CORE_FORMATS[old].suffix, CORE_FORMATS[new].suffix
    if text.lower().endswith(before):
        return text[: -len(before)] + after
    return text


def show_in_folder(path: Path) -> bool:
    """Open the folder holding ``path`` in the file manager."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))


def _is_file(path: Path) -> bool:
    return path.is_file()


class ExportDialog(QDialog):
    exported = Signal(object)  # the Path written
    progressed = Signal(float)  # 0..1, each progress report of the running export

    def __init__(self, run: Run, ops: Ops, services: Callable[[], Services],
                 presenter: ErrorPresenter, *, folder: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.run, self.ops, self.presenter = run, ops, presenter
        self.folder = folder
        self._services = services
        self.task: asyncio.Task | None = None  # checking the target, then exporting
        self.confirm: QMessageBox | None = None  # the overwrite question, while asked
        self.file_dialog: QFileDialog | None = None
        self._format = CHOICES[0].name
        title = run.title or (run.script.title if run.script else "") or run.run_id
        self.setWindowTitle(self.tr("Export “%1”").replace("%1", title))

        self.format = QComboBox(objectName="exportFormat")
        for choice in CHOICES:
            self.format.addItem(self.tr(choice.label), choice.name)
        self.about = QLabel(wordWrap=True, objectName="dialogIntro")
        self.about.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        defaults = ExportOptions()
        self.paper = QComboBox(objectName="exportPaper")
        self.paper.addItem(self.tr("A4"), "a4")
        self.paper.addItem(self.tr("US Letter"), "letter")
        us = QLocale().measurementSystem() == QLocale.MeasurementSystem.ImperialUSSystem
        self.paper.setCurrentIndex(self.paper.findData("letter" if us else defaults.page_size))
        self.orientation = QComboBox(objectName="exportOrientation")
        self.orientation.addItem(self.tr("Landscape"), "landscape")
        self.orientation.addItem(self.tr("Portrait"), "portrait")
        self.orientation.setCurrentIndex(self.orientation.findData(defaults.orientation))
        self.columns = QSpinBox(objectName="exportColumns", minimum=1, maximum=MAX_COLUMNS,
                                value=defaults.columns)
        self.columns.setToolTip(self.tr("Panels side by side; one column on a portrait page "
                                        "is a shot list"))
        # At its minimum (0) the box says each shot keeps its own duration (the default).
        self.seconds = QDoubleSpinBox(objectName="exportSeconds", decimals=1, minimum=0.0,
                                      maximum=600.0, singleStep=0.5,
                                      value=defaults.seconds_per_shot or 0.0)
        self.seconds.setSpecialValueText(self.tr("Each shot’s own"))
        self.seconds.setSuffix(self.tr(" s"))
        self.seconds.setToolTip(self.tr("How long each shot stays on screen"))
        self.captions = QCheckBox(self.tr("Caption each shot with its number and its text"),
                                  objectName="exportCaptions")
        self.captions.setChecked(defaults.captions)
        self.path = QLineEdit(objectName="exportPath")
        self.path.setText(str(folder / suggested_filename(run, self._format)))
        self.path.setToolTip(self.tr("The file to write; the folder is created if needed"))
        self.browse = QPushButton(self.tr("Choose…"))
        self.note = QLabel(wordWrap=True, objectName="formError",  # why it cannot, or failed
                           textFormat=Qt.TextFormat.PlainText)
        self.note.hide()
        self.bar = QProgressBar(objectName="runProgress", textVisible=False, minimum=0,
                                maximum=1000)
        self.bar.setFixedHeight(6)
        self.state = QLabel(objectName="dialogIntro", textFormat=Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(self.tr("Export"),
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.close_button = self.buttons.addButton(self.tr("Close"),
                                                   QDialogButtonBox.ButtonRole.RejectRole)

        where = QHBoxLayout()
        where.setSpacing(6)
        where.addWidget(self.path, 1)
        where.addWidget(self.browse)
        self.fields = QWidget()
        self.form = QFormLayout(self.fields)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.form.addRow(self.tr("Format"), self.format)
        self.form.addRow("", self.about)
        self.rows: dict[str, QWidget] = {"paper": self.paper, "orientation": self.orientation,
                                         "columns": self.columns, "seconds": self.seconds,
                                         "captions": self.captions}
        self.form.addRow(self.tr("Paper"), self.paper)
        self.form.addRow(self.tr("Orientation"), self.orientation)
        self.form.addRow(self.tr("Columns"), self.columns)
        self.form.addRow(self.tr("Seconds per shot"), self.seconds)
        self.form.addRow("", self.captions)
        self.form.addRow(self.tr("Save to"), where)
        # The choices line up as one column of one width, whichever rows the format shows.
        choosers = (self.format, self.paper, self.orientation, self.columns, self.seconds)
        for chooser in choosers:
            chooser.ensurePolished()  # sized with the stylesheet's padding
        width = max(chooser.sizeHint().width() for chooser in choosers)
        for chooser in choosers:
            chooser.setMinimumWidth(width)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.fields)
        layout.addWidget(self.note)
        layout.addWidget(self.bar)
        layout.addWidget(self.state)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self.format.currentIndexChanged.connect(self._format_changed)
        self.browse.clicked.connect(self.choose_path)
        self.export_button.clicked.connect(self.start_export)
        self.close_button.clicked.connect(self.cancel_or_close)
        self._format_changed()
        self._set_busy(False)
        self.resize(560, self.sizeHint().height())

    # What is chosen.

    @property
    def current_format(self) -> str:
        return self.format.currentData()

    def set_format(self, fmt: str) -> None:
        self.format.setCurrentIndex(self.format.findData(fmt))

    def options(self, *, overwrite: bool = False) -> ExportOptions:
        """The options as chosen (raises ``BadExportOptions`` for a value out of range)."""
        return ExportOptions(overwrite=overwrite, page_size=self.paper.currentData(),
                             orientation=self.orientation.currentData(),
                             columns=self.columns.value(),
                             seconds_per_shot=self.seconds.value() or None,
                             captions=self.captions.isChecked())

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def _format_changed(self) -> None:
        fmt = self.current_format
        choice = CHOICE[fmt]
        self.about.setText(self.tr(choice.about))
        for name, widget in self.rows.items():
            self.form.setRowVisible(widget, name in choice.options)
        self.path.setText(swap_suffix(self.path.text(), self._format, fmt))
        self._format = fmt
        self._say(self._lacking(fmt))

    def _lacking(self, fmt: str) -> str:
        """Why the run cannot be exported as ``fmt``, said before trying; "" when it can."""
        needs = CORE_FORMATS[fmt].needs
        if needs == "images" and not any(s.image for s in self.run.shots):
            return self.tr("This run has no images, so there is nothing to put in this "
                           "format; the screenplay can still be exported as Fountain.")
        if needs == "script" and (self.run.script is None
                                  or not self.run.script.screenplay.strip()):
            return self.tr("This run has no script yet.")
        return ""

    def choose_path(self) -> QFileDialog:
        """Ask for the file to write (non-blocking); the answer goes into the path field."""
        fmt = self.current_format
        suffix = CORE_FORMATS[fmt].suffix
        current = (target_path(self.path.text(), fmt, self.folder)
                   or self.folder / suggested_filename(self.run, fmt))
        dialog = QFileDialog(self, self.tr("Export to"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setOption(QFileDialog.Option.DontConfirmOverwrite)  # asked once, on Export
        dialog.setNameFilter(f"{self.tr(CHOICE[fmt].label)} (*{suffix})")
        dialog.setDefaultSuffix(suffix.lstrip("."))
        dialog.setDirectory(str(current.parent))
        dialog.selectFile(current.name)
        dialog.fileSelected.connect(self.path.setText)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.file_dialog = dialog
        return dialog

    # Exporting: check the target, ask before replacing a file, export, report.

    def start_export(self) -> None:
        if self.busy or self.confirm is not None:
            return
        fmt = self.current_format
        target = target_path(self.path.text(), fmt, self.folder)
        if target is None:
            self._say(self.tr("Choose the file to write."))
            self.path.setFocus()
            return
        self.path.setText(str(target))
        self._set_busy(True, self.tr("Checking %1…").replace("%1", target.name))
        self.task = self.ops.in_thread(
            _is_file, target, what=self.tr("Checking the export target"), parent=self,
            success=lambda exists: self._checked(fmt, target, exists), failure=self._failed)
        self.task.add_done_callback(self._task_done)

    def _checked(self, fmt: str, target: Path, exists: bool) -> None:
        if not exists:
            self._export(fmt, target, overwrite=False)
            return
        self._set_busy(False)
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Replace the file?"), self.tr(
            "%1 already exists in %2. Replace it with this export?")
            .replace("%1", target.name).replace("%2", str(target.parent)),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText(self.tr("Replace"))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda answer: self._answered(
            fmt, target, answer == QMessageBox.StandardButton.Yes))
        self.confirm = box
        box.open()  # never exec(): a nested loop under qasync stalls the tasks

    def _answered(self, fmt: str, target: Path, replace: bool) -> None:
        self.confirm = None
        if replace:
            self._export(fmt, target, overwrite=True)
        else:
            self._say(self.tr("Nothing was written: choose another name, or replace the file."))
            self.path.setFocus()
            self.path.selectAll()

    def _export(self, fmt: str, target: Path, *, overwrite: bool) -> None:
        try:
            options = self.options(overwrite=overwrite)
        except ExportError as exc:
            self._failed(exc)
            return
        services, run_id = self._services(), self.run.run_id

        async def work(report) -> Path:
            run = await services.history.get_run(run_id)  # as stored, with every image
            return await export_run(run, fmt, target, image_path=services.image_path,
                                    options=options, progress=lambda f, _m: report(f),
                                    scratch=services.settings.home / "tmp")

        self._set_busy(True, self.tr("Exporting to %1…").replace("%1", target.name))
        self.task = self.ops.start(work, what=self.tr("Exporting"), parent=self,
                                   success=self._succeeded, failure=self._failed,
                                   progress=self._progressed)
        self.task.add_done_callback(self._task_done)

    def _progressed(self, fraction: float) -> None:
        self.bar.setValue(round(fraction * self.bar.maximum()))
        self.state.setText(self.tr("Exporting… %1%").replace("%1", str(round(fraction * 100))))
        self.progressed.emit(fraction)

    def _succeeded(self, path: Path) -> None:
        self._set_busy(False)
        self.presenter.notify(
            self.tr("Exported “%1”").replace("%1", path.name),
            self.tr("Saved in %1.").replace("%1", str(path.parent)),
            actions=(Action(self.tr("Show in folder"), lambda: show_in_folder(path)),))
        self.exported.emit(path)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        message = self.presenter.report(self.tr("Export failed"), exc)
        self._say(message.text)

    def _task_done(self, task: asyncio.Task) -> None:
        if not shiboken6.isValid(self) or task is not self.task:
            return
        self.task = None
        if task.cancelled():
            self._set_busy(False)
            self.state.setText(self.tr("Export cancelled; nothing was written."))

    def cancel_export(self) -> None:
        if self.busy:
            self.task.cancel()  # the core removes what it had begun to write
            self.close_button.setEnabled(False)
            self.state.setText(self.tr("Cancelling…"))

    def cancel_or_close(self) -> None:
        if self.busy:
            self.cancel_export()
        else:
            self.reject()

    def reject(self) -> None:
        """Escape or the close button: an export under way is cancelled with the dialog."""
        if self.busy:
            self.task.cancel()
        super().reject()

    # Drawing.

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.fields.setEnabled(not busy)
        self.export_button.setEnabled(not busy)
        self.close_button.setEnabled(True)
        self.close_button.setText(self.tr("Cancel export") if busy else self.tr("Close"))
        self.bar.setValue(0)
        self.bar.setVisible(busy)
        self.state.setText(text)
        if busy:
            self._say("")

    def _say(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))
