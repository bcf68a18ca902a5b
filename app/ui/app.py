"""The desktop app's entry point and composition root.

``run_gui`` builds the QApplication, runs ``main`` on the qasync loop, and
returns an exit code. ``open_ui`` wires the parts once (presenter, ops,
bridge, session, thumbnails, window) from settings and services; the tests
use it too, so they run the same wiring as people do.

Shutdown: the window's close button (or Quit, or ``QApplication.quit()``,
which asks the window to close first) leads to ``close_requested`` once the
runs are dealt with; ``main`` then closes everything while the loop still
runs and returns. ``aboutToQuit`` sets the same event, as a last resort.
Quitting on the last window closed is off, so the loop never stops under a
coroutine that is still cleaning up.

Start-up order (first window <= 1.5 s): translators, settings, theme, then the
window, built on a session without services and shown at once; only after its
first paint are the services opened (importing them -- pymongo, aiobotocore,
pydantic-heavy stores -- happens in a worker thread) while the status bar says
so. Ideas given or typed meanwhile wait in the queue for them.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import logging.handlers
import os
import queue
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

# The core's modules the window needs (pydantic models, settings), imported before the
# first PySide6 import: once loaded, PySide6 wraps __import__ and reads the source file of
# every module that imports anything after it (shibokensupport's __feature__ check).
from app.core import estimate, events, history, ideas, ownership, progress, scenes  # noqa: F401
from app.core.errors import ConfigError, StoryreelError
from app.core.files import PrivateRotatingFileHandler, private_dir
from app.core.settings import Settings, default_home, load_settings, parse
from app.core.text import PrintableFormatter
from app.core.urls import RedactingFilter

# isort: split
import qasync
from PySide6.QtCore import QCoreApplication, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.ui import theme, translations
from app.ui.bridge import EventBridge
from app.ui.errors import Action, ErrorPresenter, install_excepthook, loop_exception_handler
from app.ui.ops import Ops
from app.ui.session import ServicesOpener, Session
from app.ui.thumbnails import ThumbnailLoader
from app.ui.window import FileOpenEvents, MainWindow

FILE_OPEN_EVENTS = sys.platform == "darwin"  # files opened with the app arrive as events

if TYPE_CHECKING:
    from app.core.services import Services

log = logging.getLogger(__name__)
translate = QCoreApplication.translate

LOG_FILE = "storyreel.log"
T = TypeVar("T")


@dataclass
class Ui:
    presenter: ErrorPresenter
    ops: Ops
    bridge: EventBridge
    session: Session
    thumbnails: ThumbnailLoader
    window: MainWindow
    closed: bool = False

    def start(self, paths: list[str]) -> None:
        """What happens once the window is up: history, the files given, interrupted runs."""
        self.window.history.refresh()
        self.window.queue_paths(paths)
        self.window.offer_resume()

    async def aclose(self) -> None:
        """Cancel runs, finish what is in flight, close services and the window. Once."""
        if self.closed:
            return
        self.closed = True
        for dialog in list(self.window.details):
            dialog.close()
        for export in list(self.window.exports):  # cancelled before the services close,
            export.reject()  # so it ends as a cancel (nothing written), not a storage error
        await self.session.aclose()
        self.ops.cancel_all()
        try:
            await self.ops.wait_idle(5.0)
        except TimeoutError:
            log.warning("operations still running at shutdown")
        self.window.allow_close = True
        self.window.close()
        self.window.deleteLater()


async def open_services(settings: Settings) -> Services:
    """The core's ``open_services``, imported on first use in a worker thread: the import
    (pymongo, storage clients, ~0.7 s) must not delay or freeze the first window."""
    core = await asyncio.to_thread(importlib.import_module, "app.core.services")
    return await core.open_services(settings)


def build_ui(settings: Settings, *, presenter: ErrorPresenter | None = None,
             opener: ServicesOpener = open_services, services: Services | None = None) -> Ui:
    """Wire the window; without ``services`` the session waits for ``set_services``."""
    presenter = presenter or ErrorPresenter()
    presenter.log_hint = presenter.log_hint or str(settings.logs_dir / LOG_FILE)
    ops = Ops(presenter)
    bridge = EventBridge()
    session = Session(services, bridge, ops, opener, settings=settings)
    thumbnails = ThumbnailLoader(ops, lambda: session.services)
    window = MainWindow(session, ops, presenter, thumbnails)
    app = QApplication.instance()
    if app is not None and FILE_OPEN_EVENTS:
        # An application-wide filter sees every event of every object, qasync's timer
        # events included; only macOS delivers opened files this way.
        app.installEventFilter(FileOpenEvents(window))
    return Ui(presenter, ops, bridge, session, thumbnails, window)


async def open_ui(settings: Settings, *, presenter: ErrorPresenter | None = None,
                  opener: ServicesOpener = open_services,
                  services: Services | None = None) -> Ui:
    """Open the services (unless given) and build the window around them."""
    services = services or await opener(settings)
    return build_ui(settings, presenter=presenter, opener=opener, services=services)


def run_gui(paths: list[str], *, self_test: bool = False) -> int:
    """Run the desktop app; queue each of ``paths`` as a run. Returns the exit code."""
    if self_test and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "storyreel"])
    app.setApplicationName("Storyreel")
    app.setOrganizationName("Storyreel")
    app.setDesktopFileName("storyreel")
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(QIcon(str(theme.resources_dir() / "icons" / "storyreel.svg")))
    translations.install(app)
    try:
        return run_on_qt(app, main(app, list(paths), self_test=self_test))
    except KeyboardInterrupt:
        return 130


def run_on_qt(app: QApplication, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on a qasync loop over ``app`` (like ``asyncio.run``).

    Not ``qasync.run``: on Python 3.11 that installs an event loop *policy* for the whole
    process, and then every ``asyncio.new_event_loop()`` -- in any thread, such as the
    embedded history server's -- makes a Qt loop, which cannot run there. ``asyncio.Runner``
    (3.11+) takes the loop factory directly and leaves the policy alone.
    """
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        return runner.run(coro)


async def main(app: QApplication, paths: list[str], *, self_test: bool = False) -> int:
    loop = asyncio.get_running_loop()
    scratch: Path | None = None
    problem: Exception | None = None
    if self_test:  # embedded defaults in a scratch folder: no user data, no cloud costs
        scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="storyreel-self-test-"))
        settings = parse({}, home=scratch)
    else:
        settings, problem = await _load_settings()
    stop_logging = await asyncio.to_thread(start_logging, settings.logs_dir)
    theme.follow_system(app, await asyncio.to_thread(theme.read_template))
    presenter = ErrorPresenter()
    uninstall = install_excepthook(presenter)
    loop.set_exception_handler(loop_exception_handler(presenter))
    ui: Ui | None = None
    try:
        ui = build_ui(settings, presenter=presenter)
        if problem is not None:  # invalid settings: say so, with the way to fix them
            presenter.notify(
                translate("MainWindow", "Settings not used, running on embedded defaults"),
                str(problem), level="error",
                actions=(Action(translate("MainWindow", "Open settings"),
                                ui.window.open_settings),))
        quit_requested = asyncio.Event()
        app.aboutToQuit.connect(quit_requested.set)
        ui.window.close_requested.connect(quit_requested.set)
        _quit_on_signals(loop, quit_requested)
        await show_first(ui.window)
        ui.session.set_services(await _open(settings, ui))
        ui.start(paths)
        code = 0
        if self_test:
            from app.ui.selftest import run_self_test

            ok, message = await run_self_test(ui)
            print(f"storyreel self-test: {'ok' if ok else 'FAILED'}: {message}",
                  file=sys.stderr)
            code = 0 if ok else 1
            quit_requested.set()
        await quit_requested.wait()
        await ui.aclose()
        return code
    except StoryreelError as exc:
        print(f"storyreel: {exc}", file=sys.stderr)
        if ui is not None:
            await ui.aclose()
        return 2
    except Exception as exc:
        if not self_test:
            raise
        print(f"storyreel self-test: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        uninstall()
        stop_logging()
        if scratch is not None:
            await asyncio.to_thread(shutil.rmtree, scratch, True)


def _quit_on_signals(loop: asyncio.AbstractEventLoop, quit_requested: asyncio.Event) -> None:
    """Ctrl-C in the terminal or a SIGTERM: the same clean shutdown as closing the window
    (runs are cancelled and recorded as such)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, quit_requested.set)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not main thread
            return


async def _load_settings() -> tuple[Settings, Exception | None]:
    """The settings; when they are invalid, embedded defaults and the reason (to show)."""
    try:
        return await asyncio.to_thread(load_settings), None
    except ConfigError as exc:
        return await asyncio.to_thread(_embedded_settings), exc


def _embedded_settings() -> Settings:
    home_value = os.environ.get("STORYREEL_HOME")
    return parse({}, home=Path(home_value).expanduser() if home_value else default_home())


async def show_first(window: MainWindow, timeout_s: float = 2.0) -> None:
    """Show ``window`` and return once it has painted (or after ``timeout_s``)."""
    painted = asyncio.get_running_loop().create_future()
    window.first_painted.connect(lambda: painted.done() or painted.set_result(None))
    window.show()
    try:
        await asyncio.wait_for(painted, timeout_s)
    except TimeoutError:
        log.warning("the window did not paint within %.1f s", timeout_s)
    await asyncio.sleep(0)  # let the painted frame reach the screen before the imports start


async def _open(settings: Settings, ui: Ui) -> Services:
    """These settings' services, or embedded defaults' when they cannot open (said so)."""
    try:
        return await ui.session.opener(settings)
    except ConfigError as exc:
        services = await ui.session.opener(parse({}, home=settings.home))
        ui.presenter.notify(
            translate("MainWindow", "Running on embedded defaults"), str(exc), level="error",
            actions=(Action(translate("MainWindow", "Open settings"), ui.window.open_settings),))
        return services


def start_logging(folder: Path) -> Callable[[], None]:
    """Log to ``folder/storyreel.log`` from a writer thread (the GUI thread never writes
    files) and warnings to stderr. Qt's own warnings go to the same log. Returns a stop
    function."""
    root = logging.getLogger()
    handlers: list[logging.Handler] = []
    try:
        private_dir(folder)  # 0700, and the log 0600: titles, errors, the database port
        file_handler = PrivateRotatingFileHandler(
            folder / LOG_FILE, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers.append(file_handler)
    except OSError as exc:
        print(f"storyreel: cannot write logs to {folder}: {exc.strerror}", file=sys.stderr)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(PrintableFormatter("storyreel: %(levelname)s %(name)s: %(message)s"))
    records: queue.SimpleQueue = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, *handlers, stderr,
                                              respect_handler_level=True)
    to_queue = logging.handlers.QueueHandler(records)
    to_queue.addFilter(RedactingFilter())  # a URL in a log line: scheme, host and port only
    root.addHandler(to_queue)
    level = root.level
    root.setLevel(logging.INFO)
    listener.start()
    previous = qInstallMessageHandler(_qt_message)

    def stop() -> None:
        qInstallMessageHandler(previous)
        root.removeHandler(to_queue)
        root.setLevel(level)
        listener.stop()
        for handler in handlers:
            handler.close()

    return stop


_QT_LEVELS = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}


def _qt_message(kind: QtMsgType, context, message: str) -> None:
    if "propagateSizeHints" in message:  # the offscreen platform says this for every window
        return
    logging.getLogger("qt").log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)


if __name__ == "__main__":  # python -m app.ui.app [--self-test] [IDEA_FILE...]
    _args = sys.argv[1:]
    raise SystemExit(run_gui([a for a in _args if a != "--self-test"],
                             self_test="--self-test" in _args))
