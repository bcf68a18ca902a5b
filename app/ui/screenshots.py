"""Screenshots of the main states of the real window: ``python -m app.ui.screenshots OUT``.

Runs the app on embedded defaults in a scratch data folder, drives it the way
a person would (types ideas, waits, opens history, settings, a shot, drops a
bad file) and saves one PNG per state: empty, running, finished, export (PDF
and MP4), script, history, shot, settings, error, and the board being shaped:
the shot editor open beside a card, a 2.39:1 board and a 9:16 board. ``--dark`` asks for the dark
look; the language is the app's (``STORYREEL_LANG=fr`` for French). Meant for
Xvfb (``xvfb-run -s '-screen 0 1440x900x24'``) or any desktop; falls back to
offscreen without a display.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtWidgets import QApplication, QWidget

from app.core.ideas import from_text
from app.core.models import RunOptions
from app.core.services import Services, open_services
from app.core.settings import Settings, parse
from app.ui import theme, translations
from app.ui.app import open_ui, run_on_qt
from app.ui.revise import LookEditor

IDEAS = [
    ("The Last Lamp", "An old lighthouse keeper named Mara has kept the light on Gull Rock "
     "burning for forty years. On the night of the worst storm in a century the lamp fails "
     "and a fishing boat is lost in the dark below the cliffs."),
    ("Opera Heist", "Four thieves plan to steal a violin during the opening night of the "
     "opera, but the soprano is planning the same thing."),
    ("Red Dust Picnic", "Two botanists on Mars take a day off for a picnic; the dust storm "
     "arrives early and their rover will not start."),
]


class SlowRenderer:
    """The draft renderer, slowed down to look like GPUs at work."""

    def __init__(self, inner, low: float = 0.6, high: float = 2.4) -> None:
        self.inner, self.name, self.low, self.high = inner, inner.name, low, high

    async def render_shot(self, request):
        await asyncio.sleep(random.uniform(self.low, self.high))
        return await self.inner.render_shot(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def slow_services(settings: Settings) -> Services:
    services = await open_services(settings)
    services.renderer = SlowRenderer(services.renderer)
    return services


def save(widget: QWidget, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    print(f"saved {path}", file=sys.stderr)
    return path


async def settle(seconds: float = 0.3) -> None:
    """Let the window catch up. Never ``processEvents()`` inside a coroutine: that runs
    other tasks' steps re-entrantly ("Cannot enter into task ...")."""
    await asyncio.sleep(seconds)


async def shoot(app: QApplication, out: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="storyreel-screens-"))
    try:
        theme.follow_system(app, theme.read_template())
        ui = await open_ui(parse({}, home=home), opener=slow_services)
        window = ui.window
        window.resize(1440, 900)
        window.show()
        ui.start([])
        await settle(0.8)
        save(window, out, "1-empty")

        # History: two earlier runs, made quickly on the plain draft renderer.
        fast = ui.session.services.renderer.inner
        pipeline = ui.session.services.pipeline()
        pipeline.renderer = fast
        for _title, text in IDEAS[1:]:
            await pipeline.start(from_text(text), RunOptions(max_shots=6))
        window.history.refresh()

        idea = window.idea
        idea.editor.setPlainText(IDEAS[0][1])
        idea.shots.setValue(12)
        await settle(0.2)
        idea.submit_typed()
        model = window.run_view.model
        while sum(s.status.value == "done" for s in model.shots) < 4:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await settle(0.4)
        save(window, out, "2-running")
        finished = asyncio.get_running_loop().create_future()
        ui.bridge.run_finished.connect(lambda run: finished.done() or finished.set_result(run))
        await finished
        while ui.thumbnails.pending:  # noqa: ASYNC110 - a script watching the screen
            await asyncio.sleep(0.05)
        await settle(0.8)
        save(window, out, "3-finished")

        window.export_action.trigger()  # File > Export… on the finished run
        [export] = window.exports
        await settle(0.4)
        save(export, out, "3b-export")
        export.set_format("mp4")
        await settle(0.4)
        save(export, out, "3c-export-mp4")
        export.reject()
        await settle(0.2)

        window.run_view.tabs.setCurrentIndex(1)
        await settle()
        save(window, out, "4-script")

        # Craft: change a character's look; their shots go stale; render only those again.
        window.run_view.tabs.setCurrentIndex(2)
        await settle()
        save(window, out, "4b-scenes-cast")
        [editor, *_] = window.run_view.scenes.findChildren(LookEditor)
        editor.look.setPlainText(editor.look.toPlainText().replace("Wears", "Wears a red scarf,")
                                 if "Wears" in editor.look.toPlainText()
                                 else "A tall figure in a long red coat and a black hat.")
        editor.apply()
        while not any(s.stale for s in model.shots):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        window.run_view.tabs.setCurrentIndex(0)
        await settle(0.6)
        save(window, out, "4c-stale")
        stale = next(s for s in model.shots if s.stale)
        window.run_view.regenerate_stale_action.trigger()
        while any(s.stale or s.status.value != "done" for s in model.shots):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        while ui.thumbnails.pending:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await settle(0.6)
        dialog = window.open_shot(model.shot(stale.shot_id))
        await settle(1.0)
        save(dialog, out, "4d-versions")
        dialog.close()

        window.history.search.setText("opera")
        await settle(1.0)
        window.history.list.setCurrentIndex(window.history.model.index(0))
        window.open_run(window.history.model.runs[0].run_id)
        await settle(1.2)
        save(window, out, "5-history")
        window.history.search.clear()
        await settle(0.6)

        dialog = window.open_shot(window.run_view.model.shots[1])
        await settle(1.0)
        save(dialog, out, "6-shot")
        dialog.close()

        settings = window.open_settings()
        await settle(0.6)
        save(settings, out, "7-settings")
        settings.tabs.setCurrentIndex(2)
        for part in settings.tests:
            settings.test(part)
        await settle(1.5)
        save(settings, out, "7b-settings-tested")
        settings.reject()

        await shoot_board(ui, pipeline, out)

        junk = home / "holiday.png"
        junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(junk))])
        idea.accept_drop(mime)
        await settle(0.6)
        save(window, out, "8-error")
        await ui.aclose()
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def shoot_board(ui, pipeline, out: Path) -> None:
    """The board being shaped: the shot editor beside a card of the run on show, then a
    2.39:1 and a 9:16 board (drawn in that frame; reframed and redrawn if this pipeline
    does not take the run's aspect from its options)."""
    window = ui.window
    view = window.run_view
    view.tabs.setCurrentIndex(0)
    view.gallery.setCurrentIndex(view.model.index(1))
    await settle(0.4)
    editor = view.editor
    editor.note.setText("Hold on the lamp; the storm is heard, not seen")
    await settle(0.4)
    save(window, out, "9-board-editor")
    editor.show_shot(editor.shot, force=True)
    for aspect, name in (("2.39:1", "9b-board-2.39"), ("9:16", "9c-board-9x16")):
        run = await pipeline.start(from_text(IDEAS[2][1]), RunOptions(max_shots=8,
                                                                      aspect=aspect))
        if run.aspect != aspect:
            await pipeline.board.set_aspect(run.run_id, aspect)
            await pipeline.regenerate_stale(run.run_id)
        window.open_run(run.run_id)
        while view.run_id != run.run_id:  # noqa: ASYNC110 - a script watching the screen
            await asyncio.sleep(0.05)
        await settle(0.6)
        while ui.thumbnails.pending:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await settle(0.6)
        save(window, out, name)


def main(argv: list[str]) -> int:
    dark = "--dark" in argv
    argv = [a for a in argv if a != "--dark"]
    out = Path(argv[0] if argv else "build/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(["storyreel-screenshots"])
    app.setQuitOnLastWindowClosed(False)
    translations.install(app)  # as the app does: STORYREEL_LANG=fr gives French shots
    if dark:
        os.environ["STORYREEL_THEME"] = "dark"
    run_on_qt(app, shoot(app, out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
