"""``storyreel --self-test``: paint the window, run one small draft run through it,
check that its shots were shown. Drives the window the way a person would
(types an idea, presses Generate) and looks only at what the window shows.
"""

from __future__ import annotations

import asyncio
import time

from app.core.models import Run, RunStatus
from app.ui.gallery import ImageRole

IDEA = ("A lighthouse keeper on a storm-beaten rock sees a light at sea where no ship "
        "should be, and rows out alone to find it.")
MAX_SHOTS = 3


async def run_self_test(ui, *, timeout_s: float = 90.0) -> tuple[bool, str]:
    """``(ok, what happened)``; never raises."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _check(ui)
    except TimeoutError:
        return False, f"did not finish within {timeout_s:.0f} s"
    except Exception as exc:  # the self-test reports, it never crashes
        return False, f"{type(exc).__name__}: {exc}"


async def _check(ui) -> tuple[bool, str]:
    window = ui.window
    started = time.monotonic()
    await asyncio.sleep(0.05)  # let the window reach the screen
    first = window.grab()
    if first.isNull() or first.width() < 100 or first.height() < 100:
        return False, "the main window did not paint"

    loop = asyncio.get_running_loop()
    finished: asyncio.Future[Run] = loop.create_future()

    def on_finished(run: Run) -> None:
        if not finished.done():
            finished.set_result(run)

    ui.bridge.run_finished.connect(on_finished)
    window.idea.editor.setPlainText(IDEA)
    window.idea.shots.setValue(MAX_SHOTS)
    if not window.idea.submit_typed():
        message = ui.presenter.last.text if ui.presenter.last else "the idea was refused"
        return False, message
    run = await finished
    if run.status is not RunStatus.COMPLETED:
        return False, f"the draft run ended {run.status.value}: {run.error}"

    model = window.run_view.model
    if model.run_id != run.run_id or model.rowCount() != run.shot_count:
        return False, (f"the gallery shows {model.rowCount()} shots of {model.run_id}, "
                       f"expected {run.shot_count} of {run.run_id}")
    while not all(model.data(model.index(row), ImageRole) is not None
                  for row in range(model.rowCount())):
        errors = [model.thumbnails.error(s.image) for s in model.shots]
        if any(errors):
            return False, f"a shot image could not be shown: {next(e for e in errors if e)}"
        await asyncio.sleep(0.05)
    last = window.run_view.gallery.grab()
    if last.isNull():
        return False, "the gallery did not paint"
    history = window.history
    while run.run_id not in [r.run_id for r in history.model.runs]:  # kept, and listed
        if ui.presenter.last is not None and ui.presenter.last.level == "error":
            return False, f"{ui.presenter.last.title}: {ui.presenter.last.text}"
        await asyncio.sleep(0.05)
    took = time.monotonic() - started
    return True, (f"window painted, draft run “{run.title}” made {run.shots_done} shots, all "
                  f"{model.rowCount()} shown with their images and listed in history "
                  f"in {took:.1f} s")
