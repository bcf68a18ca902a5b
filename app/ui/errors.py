"""The one place problems are shown: a non-modal message bar, and the excepthook.

Errors are data (STYLE.md 7). A message says what failed (its title, given in
the window's language by whoever reports it), why (its text) and what to do
(its hint). A core ``StoryreelError`` says why in English, the CLI's language,
and is shown as it is; the hint that follows it comes from its type and is
translated here. Anything else is a bug: it is logged with its traceback (to
``STORYREEL_HOME/logs``), shown with its technical details, and the app keeps
running. Messages reported before the bar exists are kept and shown once it is
attached, as qutebrowser does.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import (
    ConfigError,
    DiskError,
    HistoryError,
    IdeaError,
    RemoteError,
    RenderError,
    RunNotFound,
    StageError,
    StorageError,
    StoryreelError,
)
from app.core.storage import BucketNotFound, ObjectNotFound, StorageAuthError

log = logging.getLogger(__name__)

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Action:
    label: str
    run: Callable[[], None]


@dataclass(frozen=True)
class Message:
    title: str  # what failed, or what happened
    text: str  # why (a core error says it in English, the CLI's language)
    details: str = ""  # technical text a person can copy into a report
    level: str = ERROR
    actions: tuple[Action, ...] = field(default=())
    bug: bool = False  # an unexpected exception, not an error the app anticipates
    hint: str = ""  # what to do about it, in the window's language

    @property
    def shown_text(self) -> str:
        """The text under the title: why, then what to do."""
        return f"{self.text}\n{self.hint}" if self.hint else self.text


def hint_for(exc: BaseException) -> str:
    """What a person can do about ``exc``, translated ("" when the text says it already)."""
    translate = QCoreApplication.translate
    match exc:
        case ConfigError():
            return translate("errors", "Correct it in File › Settings.")
        case IdeaError():
            return translate("errors", "Check the idea or the file, then try again.")
        case RunNotFound():
            return translate("errors", "It may have been deleted meanwhile: refresh the history.")
        case HistoryError():
            return translate("errors", "Check the history settings (File › Settings) and the "
                             "connection, then try again.")
        case StorageAuthError():
            return translate("errors", "Check the R2 keys in File › Settings.")
        case BucketNotFound():
            return translate("errors", "Check the R2 bucket name in File › Settings.")
        case DiskError():
            return translate("errors", "Free some space on that disk (or make it writable), "
                             "then try again: an unfinished run resumes from History.")
        case ObjectNotFound():
            return translate("errors", "The image is no longer in storage: render the shot "
                             "again.")
        case StorageError():
            return translate("errors", "Check the storage settings (File › Settings) and the "
                             "connection, then try again.")
        case StageError():
            return translate("errors", "Try again, or check the writer in File › Settings.")
        case RenderError():
            return translate("errors", "Retry the shot, or check the renderer in File › "
                             "Settings.")
        case RemoteError(status=401 | 403):
            return translate("errors", "Check the API key in File › Settings.")
        case RemoteError():
            return translate("errors", "Check the connection and the settings (File › "
                             "Settings), then try again.")
        case OSError() if exc.filename:
            return translate("errors", "Check the file and its folder, then try again.")
    return ""


def describe(exc: BaseException, log_hint: str = "") -> tuple[str, str, bool]:
    """``(text, details, is_bug)`` for an exception shown to a person."""
    translate = QCoreApplication.translate
    details = "".join(traceback.format_exception(exc)).rstrip()
    if isinstance(exc, StoryreelError):
        return str(exc), f"{type(exc).__name__}: {exc}", False
    if isinstance(exc, TimeoutError):
        return translate("errors", "It took too long and was given up. Try again in a moment."), \
            details, False
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}.", details, False
    if log_hint:
        text = translate("errors", "An unexpected error (%1) was logged and written to %2. The app "
                  "keeps running; if this happens again, please report it with the details.")
    else:
        text = translate("errors", "An unexpected error (%1) was logged. The app keeps running; if "
                  "this happens again, please report it with the details.")
    return text.replace("%1", type(exc).__name__).replace("%2", log_hint), details, True


class ErrorPresenter(QObject):
    """Collects messages (from any thread) and shows them on the attached bar."""

    message_added = Signal(object)  # Message
    _from_thread = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.messages: list[Message] = []
        self.log_hint = ""
        self._bar: MessageBar | None = None
        self._from_thread.connect(self._add, Qt.ConnectionType.QueuedConnection)

    def attach(self, bar: MessageBar) -> None:
        """Show on ``bar`` from now on, starting with what was reported before it existed."""
        self._bar = bar
        for message in self.messages:
            bar.push(message)

    def report(self, title: str, error: BaseException | str, *, details: str = "",
               level: str = ERROR) -> Message:
        """Show that ``title`` failed because of ``error`` (an exception or a sentence)."""
        bug, hint = False, ""
        if isinstance(error, BaseException):
            text, details, bug = describe(error, self.log_hint)
            hint = "" if bug else hint_for(error)
            if bug:
                log.error("%s", title, exc_info=error)
            else:
                log.warning("%s: %s", title, text)
        else:
            text = error
            log.warning("%s: %s", title, text)
        return self.add(Message(title, text, details, level, bug=bug, hint=hint))

    def notify(self, title: str, text: str, *, actions: tuple[Action, ...] = (),
               level: str = INFO) -> Message:
        return self.add(Message(title, text, "", level, actions))

    def add(self, message: Message) -> Message:
        if threading.current_thread() is threading.main_thread():
            self._add(message)
        else:
            self._from_thread.emit(message)
        return message

    def _add(self, message: Message) -> None:
        self.messages.append(message)
        if self._bar is not None:
            self._bar.push(message)
        self.message_added.emit(message)

    @property
    def last(self) -> Message | None:
        return self.messages[-1] if self.messages else None


def install_excepthook(presenter: ErrorPresenter) -> Callable[[], None]:
    """Route uncaught exceptions (also those of ``@asyncSlot`` handlers and of threads)
    to the log and the presenter. Returns a function that puts the old hooks back."""
    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook

    def hook(kind: type[BaseException], exc: BaseException,
             tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous_hook(kind, exc, tb)
            return
        if exc.__traceback__ is None and tb is not None:
            exc = exc.with_traceback(tb)
        presenter.report(QCoreApplication.translate("errors", "Something went wrong"), exc)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            previous_thread_hook(args)
            return
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook

    def uninstall() -> None:
        sys.excepthook = previous_hook
        threading.excepthook = previous_thread_hook

    return uninstall


def loop_exception_handler(presenter: ErrorPresenter):
    """An asyncio exception handler (``loop.set_exception_handler``) that shows bugs."""

    def handle(loop, context: dict) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            presenter.report(QCoreApplication.translate("errors", "Something went wrong"), exc)
        else:
            log.error("asyncio: %s", context.get("message", context))

    return handle


class MessageBar(QFrame):
    """A non-modal bar above the work area: one message at a time, newest first.

    Dismissing a message shows the one before it. Details can be expanded and
    copied; actions (for example "Resume") are buttons on the bar.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setProperty("level", ERROR)
        self._queue: list[Message] = []
        # Plain text: a message often quotes a server's error, which may hold HTML.
        self.title = QLabel(objectName="messageTitle", textFormat=Qt.TextFormat.PlainText)
        self.text = QLabel(objectName="messageText", wordWrap=True,
                           textFormat=Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.more = QLabel(objectName="messageMore", textFormat=Qt.TextFormat.PlainText)
        self.actions_box = QHBoxLayout()
        self.actions_box.setSpacing(6)
        self.details_button = QPushButton(self.tr("Details"), checkable=True, flat=True)
        self.copy_button = QPushButton(self.tr("Copy details"), flat=True)
        self.close_button = QToolButton(text="✕", autoRaise=True)
        self.close_button.setToolTip(self.tr("Dismiss"))
        self.details = QPlainTextEdit(readOnly=True, objectName="messageDetails")
        self.details.setMaximumHeight(160)
        self.details.hide()

        top = QHBoxLayout()
        words = QVBoxLayout()
        words.setSpacing(2)
        heading = QHBoxLayout()
        heading.addWidget(self.title)
        heading.addWidget(self.more)
        heading.addStretch(1)
        words.addLayout(heading)
        words.addWidget(self.text)
        top.addLayout(words, 1)
        top.addLayout(self.actions_box)
        top.addWidget(self.details_button)
        top.addWidget(self.copy_button)
        top.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.details)

        self.details_button.toggled.connect(self.details.setVisible)
        self.copy_button.clicked.connect(self.copy_details)
        self.close_button.clicked.connect(self.dismiss)
        self.hide()

    @property
    def current(self) -> Message | None:
        return self._queue[-1] if self._queue else None

    def push(self, message: Message) -> None:
        self._queue.append(message)
        self._show_current()

    def dismiss(self) -> None:
        if self._queue:
            self._queue.pop()
        self._show_current()

    def copy_details(self) -> None:
        message = self.current
        if message is not None:
            QGuiApplication.clipboard().setText(
                f"{message.title}\n{message.shown_text}\n\n{message.details}".rstrip())

    def _show_current(self) -> None:
        message = self.current
        if message is None:
            self.hide()
            return
        self.setProperty("level", message.level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.title.setText(message.title)
        self.text.setText(message.shown_text)
        waiting = len(self._queue) - 1
        self.more.setText(self.tr("+%1 more").replace("%1", str(waiting)) if waiting else "")
        self.details.setPlainText(message.details)
        has_details = bool(message.details)
        self.details_button.setVisible(has_details)
        self.copy_button.setVisible(has_details)
        if not has_details:
            self.details_button.setChecked(False)
        while self.actions_box.count():
            item = self.actions_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for action in message.actions:
            button = QPushButton(action.label)
            button.clicked.connect(lambda _=False, a=action, m=message: self._act(a, m))
            self.actions_box.addWidget(button)
        self.show()

    def _act(self, action: Action, message: Message) -> None:
        if message in self._queue:
            self._queue.remove(message)
        self._show_current()
        action.run()
