"""The window on the cloud parts: the writer and the renderer on the fake RunPod API, the
images in moto standing in for R2, the history embedded.

The window is the real one, built by the real composition root (``open_ui`` with the
app's own ``open_services``), and configured the way a person does it: the variables in
``STORYREEL_HOME/.env``. The fake RunPod API runs on a thread of its own
(``BackgroundRunPod``); its shot endpoint runs the real worker (draft backend), which
uploads each PNG to moto. Shots are held IN_PROGRESS on the fake, and released, to stop
a run at a known point: no timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core.events import RunDetached
from app.core.models import RunStatus, ShotStatus
from app.ui.app import open_services
from app.ui.gallery import ImageRole, ShotModel
from app.ui.statuses import shot_status_text
from tests.fakes.chat import FakeLLM
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.runpod_server import JobPlan
from tests.integration.support import (
    RUNPOD_KEY,
    S3_SECRET_KEY,
    SHOT_ENDPOINT,
    WRITER_ENDPOINT,
    BackgroundRunPod,
    MotoS3,
    shot_of,
)
from tests.ui.conftest import WAIT_MS, Recorder, finish

IDEA = "An old lighthouse keeper and a runaway boy keep the light burning through a storm."
WRITER_KEY = "sk-writer-secret-never-shown"


# The cloud: moto for R2 and the fake RunPod API (tests.fakes.cloud, offered by
# tests/ui/conftest.py), and the app configured for both.


def write_env(home: str, values: dict[str, str]) -> None:
    """What the settings dialog saves: ``STORYREEL_HOME/.env``."""
    text = "".join(f"{name}={value}\n" for name, value in values.items())
    (Path(home) / ".env").write_text(text, encoding="utf-8")


@pytest.fixture
def cloud(runpod: BackgroundRunPod, s3: MotoS3, bucket: str, home: str) -> dict[str, str]:
    values = {**runpod.env(), **s3.r2_env(bucket)}
    write_env(home, values)
    return values


@pytest.fixture
def opener():
    """The composition root's own ``open_services``: no test double inside the window."""
    return open_services


@pytest.fixture
def ui(cloud, make_ui):  # after ``cloud``: the window is closed before the fakes stop
    return make_ui()


@pytest.fixture
def recorder(ui) -> Recorder:
    return Recorder(ui)


# Steering the fake and reading the window.


def hold_shots(runpod: BackgroundRunPod, *, except_: tuple[str, ...] = ()) -> None:
    """Shot jobs stay IN_PROGRESS on RunPod until ``release``, except those of ``except_``."""

    def plan(endpoint, job_input, n) -> JobPlan:
        if endpoint == SHOT_ENDPOINT and shot_of(job_input["output"]["key"])[0] not in except_:
            return JobPlan(hold=True)
        return JobPlan()

    runpod.call(lambda: setattr(runpod.fake, "plan_for", plan))


def release(runpod: BackgroundRunPod) -> None:
    def go() -> None:
        runpod.fake.plan_for = None
        runpod.fake.release_all()

    runpod.call(go)


def held_and_polled(runpod: BackgroundRunPod) -> list[str]:
    """Shot jobs held on RunPod that the app has already asked about."""
    return [j["id"] for j in runpod.shot_jobs() if j["held"] and j["reads"] >= 1]


def generate(ui, qtbot, shots: int, text: str = IDEA) -> None:
    ui.window.idea.shots.setValue(shots)
    ui.window.idea.editor.setPlainText(text)
    ui.window.idea.editor.setFocus()
    qtbot.keyClick(ui.window.idea.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def card_image(model: ShotModel, row: int):
    return model.data(model.index(row), ImageRole)


def open_settings(ui, qtbot):
    dialog = ui.window.open_settings()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=WAIT_MS)
    return dialog


def check_part(dialog, qtbot, part: str) -> str:
    """Press the Test button of ``part`` and wait for its answer."""
    dialog.tests[part].click()
    qtbot.waitUntil(lambda: dialog.results[part].text().startswith(("✓", "✗")),
                    timeout=WAIT_MS)
    return dialog.results[part].text()


# The tests.


def test_the_status_bar_names_the_cloud_parts_and_no_secret(ui, bucket):
    where = ui.window.where
    assert where.text() == (
        f"Writer: RunPod vLLM {WRITER_ENDPOINT} · Renderer: RunPod {SHOT_ENDPOINT} · "
        f"Storage: R2 bucket {bucket} · History: embedded ({ui.session.settings.db_dir})")
    assert where.toolTip().splitlines()[:3] == [
        f"Writer: RunPod vLLM {WRITER_ENDPOINT}", f"Renderer: RunPod {SHOT_ENDPOINT}",
        f"Storage: R2 bucket {bucket}"]
    for secret in (RUNPOD_KEY, S3_SECRET_KEY):
        assert secret not in where.text() + where.toolTip()


def test_generate_fills_the_cards_as_shots_land_with_images_pulled_back_from_r2(
        ui, recorder, runpod, s3, bucket, qtbot, home):
    hold_shots(runpod, except_=("s01-01",))  # the first shot lands, the others wait
    generate(ui, qtbot, shots=4)
    view = ui.window.run_view
    model = view.model
    qtbot.waitUntil(lambda: model.rowCount() == 4 and card_image(model, 0) is not None
                    and len(held_and_polled(runpod)) == 3, timeout=WAIT_MS)

    # The first card shows its image while the other three jobs still run on RunPod.
    assert model.shots[0].status is ShotStatus.DONE
    assert [s.status for s in model.shots[1:]] == [ShotStatus.RENDERING] * 3
    assert [card_image(model, row) for row in (1, 2, 3)] == [None] * 3
    assert all(shot_status_text(s, None) == "rendering" for s in model.shots[1:])
    assert recorder.finished() == []
    qtbot.waitUntil(lambda: view.stage.text().startswith("Rendering shots 1/4"),
                    timeout=WAIT_MS)
    assert view.cancel_button.isVisible()

    release(runpod)
    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.COMPLETED and run.shots_done == 4
    assert (run.writer, run.renderer) == (f"RunPod vLLM {WRITER_ENDPOINT}",
                                          f"RunPod {SHOT_ENDPOINT}")
    qtbot.waitUntil(lambda: all(card_image(model, r) is not None for r in range(4)),
                    timeout=WAIT_MS)
    jobs = {j["key"]: j["id"] for j in runpod.shot_jobs()}
    assert len(jobs) == 4  # one job per shot, none paid twice
    for row, shot in enumerate(model.shots):
        assert shot.status is ShotStatus.DONE
        assert (shot.image.store, shot.image.bucket) == ("r2", bucket)
        assert shot.job_id == jobs[shot.image.key]
        # The card's picture is the worker's PNG, fetched back from R2 into the preview cache.
        path = finish(qtbot, ui.session.services.image_path(shot.image))
        assert path.is_relative_to(Path(home) / "cache")
        assert path.read_bytes() == s3.get(bucket, shot.image.key)
        image = card_image(model, row)
        assert abs(image.width() / image.height() - 1024 / 576) < 0.02
    assert sorted(s3.keys(bucket)) == sorted(jobs)
    blobs = Path(home) / "blobs"
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))
    qtbot.waitUntil(lambda: view.stage.text().startswith("Finished: completed"),
                    timeout=WAIT_MS)
    assert not view.cancel_button.isVisible()


def test_the_shot_dialog_shows_the_runpod_job_its_timings_and_the_image_from_r2(
        ui, recorder, runpod, qtbot):
    generate(ui, qtbot, shots=1)
    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.COMPLETED
    shot = ui.window.run_view.model.shots[0]
    [job] = runpod.shot_jobs()
    dialog = ui.window.open_shot(shot)
    assert dialog.job.text() == f"{job['id']}  ·  attempt 1"
    # Every timing by its name: the worker's, RunPod's queue and GPU time, the total.
    names = [part.rsplit(" ", 2)[0] for part in dialog.timings.text().split(" · ")]
    assert names == ["load", "render", "encode", "upload", "GPU", "queue", "total"]
    qtbot.waitUntil(lambda: dialog.image.image is not None, timeout=WAIT_MS)
    assert (dialog.image.image.width(), dialog.image.image.height()) == (1360, 768)
    dialog.close()


def test_cancel_in_the_window_cancels_the_runpod_jobs_in_flight(ui, recorder, runpod, qtbot):
    hold_shots(runpod)
    generate(ui, qtbot, shots=3)
    view = ui.window.run_view
    qtbot.waitUntil(lambda: len(held_and_polled(runpod)) == 3, timeout=WAIT_MS)
    held = held_and_polled(runpod)
    qtbot.waitUntil(view.cancel_button.isVisible, timeout=WAIT_MS)

    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    [run] = recorder.wait_finished(qtbot)

    assert run.status is RunStatus.CANCELLED
    assert sorted(runpod.cancels()) == sorted(held)  # each job in flight, once
    assert runpod.unfinished() == []  # nothing left running (and paid for) on RunPod
    states = {j["id"]: j["status"] for j in runpod.shot_jobs()}
    assert {states[i] for i in held} == {"CANCELLED"}
    qtbot.waitUntil(lambda: {s.status for s in view.model.shots} == {ShotStatus.CANCELLED},
                    timeout=WAIT_MS)
    qtbot.waitUntil(view.retry_button.isVisible, timeout=WAIT_MS)
    assert view.stage.text().startswith("Finished: cancelled")


def test_cancel_while_the_script_is_written_cancels_the_writer_job(
        ui, recorder, runpod, qtbot):
    runpod.call(lambda: setattr(runpod.fake, "plan_for",
                                lambda endpoint, job_input, n: JobPlan(hold=True)))
    generate(ui, qtbot, shots=3)
    view = ui.window.run_view

    def writer_jobs() -> list[str]:
        return runpod.call(lambda: [j.id for j in runpod.fake.submissions
                                    if j.endpoint == WRITER_ENDPOINT and j.status_reads])

    qtbot.waitUntil(lambda: len(writer_jobs()) == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: view.stage.text() == "Writing the script…", timeout=WAIT_MS)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    [run] = recorder.wait_finished(qtbot)

    assert (run.status, run.shot_count) == (RunStatus.CANCELLED, 0)
    assert runpod.cancels() == writer_jobs()
    assert runpod.unfinished() == [] and runpod.shot_jobs() == []
    qtbot.waitUntil(lambda: view.stage.text().startswith("Finished: cancelled"),
                    timeout=WAIT_MS)


def test_the_settings_tests_pass_against_runpod_and_r2_and_name_a_refused_key(
        ui, runpod, bucket, qtbot):
    dialog = open_settings(ui, qtbot)
    assert check_part(dialog, qtbot, "writer") == (
        f"✓ RunPod vLLM {WRITER_ENDPOINT}: workers: 1 idle, 0 running; "
        "jobs: 0 in queue, 0 in progress")
    assert check_part(dialog, qtbot, "renderer").startswith(f"✓ RunPod {SHOT_ENDPOINT}: ")
    assert check_part(dialog, qtbot, "storage") == (
        f"✓ R2 bucket {bucket}: wrote, read and deleted a probe object")
    assert check_part(dialog, qtbot, "history").startswith("✓ ")

    wrong = "rp-WRONG-key-0123456789"
    dialog.fields["RUNPOD_API_KEY"].setText(wrong)
    for part in ("renderer", "writer"):
        text = check_part(dialog, qtbot, part)
        assert text.startswith("✗ ")
        assert "the RunPod API key was refused" in text and "RUNPOD_API_KEY" in text
        assert wrong not in text and RUNPOD_KEY not in text
    assert runpod.call(lambda: runpod.fake.requests["health"]) >= 4
    assert not any(m.bug for m in ui.presenter.messages)
    dialog.reject()


def test_closing_and_keeping_the_jobs_leaves_them_running_and_the_run_resumable(
        cloud, make_ui, runpod, s3, bucket, qtbot):
    first = make_ui()
    recorder = Recorder(first)
    hold_shots(runpod, except_=("s01-01",))
    generate(first, qtbot, shots=3)
    qtbot.waitUntil(lambda: len(held_and_polled(runpod)) == 2, timeout=WAIT_MS)
    held = held_and_polled(runpod)
    model = first.window.run_view.model
    qtbot.waitUntil(lambda: model.rowCount() == 3 and model.shots[0].status is ShotStatus.DONE,
                    timeout=WAIT_MS)
    run_id = model.run_id

    first.window.close()  # the close button: it asks first
    box = first.window.findChild(QMessageBox)
    assert box is not None and "still working" in box.text()
    later = next(b for b in box.buttons() if b.text() == "Quit, resume later")
    later.click()
    finish(qtbot, first.aclose())  # what main() does next

    assert runpod.cancels() == []  # the jobs were left running on RunPod ...
    assert sorted(runpod.unfinished()) == sorted(held)
    assert recorder.finished() == []  # ... and the run did not end: it was detached
    [detached] = [e.run for e in recorder.events if isinstance(e, RunDetached)]
    assert detached.run_id == run_id and detached.status is RunStatus.RUNNING

    release(runpod)  # RunPod finishes the jobs while the app is closed
    second = make_ui()
    stored = finish(qtbot, second.session.services.history.get_run(run_id))
    assert stored.status is RunStatus.RUNNING
    rendering = {s.shot_id: s.job_id for s in stored.shots if s.status is ShotStatus.RENDERING}
    assert sorted(rendering.values()) == sorted(held)  # their job ids were kept, to poll
    qtbot.waitUntil(lambda: second.presenter.last is not None, timeout=WAIT_MS)
    offer = second.presenter.last
    assert offer.title == "1 interrupted run(s)"
    assert [a.label for a in offer.actions] == ["Resume"]
    finished = []
    second.bridge.run_finished.connect(finished.append)
    second.window.message_bar.actions_box.itemAt(0).widget().click()
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=WAIT_MS)

    [run] = finished
    assert run.run_id == run_id and run.status is RunStatus.COMPLETED
    jobs = runpod.shot_jobs()
    assert len(jobs) == 3  # the held jobs were polled again, not paid for again
    assert {s.shot_id: s.job_id for s in run.shots if s.shot_id in rendering} == rendering
    shown = second.window.run_view.model
    assert shown.run_id == run_id
    qtbot.waitUntil(lambda: all(card_image(shown, r) is not None for r in range(3)),
                    timeout=WAIT_MS)
    assert sorted(s3.keys(bucket)) == sorted(j["key"] for j in jobs)


# The writer on an OpenAI-compatible server instead of RunPod.


class ModelsOpenAI(FakeOpenAI):
    """The OpenAI fake with ``GET /v1/models`` too (what the settings' Test asks for)."""

    MODEL = "fake-llm"

    def routes(self) -> list[web.RouteDef]:
        return [*super().routes(), web.get("/v1/models", self._models)]

    async def _models(self, request: web.Request) -> web.Response:
        if self.api_key is not None and \
                request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "Incorrect API key provided"}},
                                     status=401)
        return web.json_response({"object": "list", "data": [
            {"id": self.MODEL, "object": "model", "owned_by": "fake"}]})


@pytest.fixture
def openai_writer(loop, qtbot, cloud, home) -> Iterator[ModelsOpenAI]:
    """The fake OpenAI server on the window's own loop, and the writer pointed at it."""
    server = ModelsOpenAI(FakeLLM(), api_key=WRITER_KEY)
    finish(qtbot, server.start())
    values = {k: v for k, v in cloud.items() if k != "RUNPOD_WRITER_ENDPOINT"}
    write_env(home, {**values, "WRITER_BASE_URL": server.base_url,
                     "WRITER_API_KEY": WRITER_KEY, "WRITER_MODEL": ModelsOpenAI.MODEL})
    try:
        yield server
    finally:
        finish(qtbot, server.close())


def test_an_openai_compatible_writer_writes_the_run_and_its_test_names_a_refused_key(
        openai_writer, make_ui, runpod, qtbot):
    ui = make_ui()
    host = f"127.0.0.1:{openai_writer.port}"
    assert ui.window.where.text().startswith(
        f"Writer: OpenAI-compatible {ModelsOpenAI.MODEL} at {host} · "
        f"Renderer: RunPod {SHOT_ENDPOINT} · ")
    recorder = Recorder(ui)
    generate(ui, qtbot, shots=2)
    [run] = recorder.wait_finished(qtbot)
    assert run.status is RunStatus.COMPLETED and run.title == "The Last Keeper"
    assert openai_writer.requests == 2  # the script, then the scene plan
    assert set(openai_writer.auth_headers) == {f"Bearer {WRITER_KEY}"}
    assert runpod.call(lambda: [j.endpoint for j in runpod.fake.submissions]) == \
        [SHOT_ENDPOINT] * 2

    dialog = open_settings(ui, qtbot)
    assert check_part(dialog, qtbot, "writer") == (
        f"✓ OpenAI-compatible {ModelsOpenAI.MODEL} at {host}: "
        f"reachable, model '{ModelsOpenAI.MODEL}' available")
    dialog.fields["WRITER_API_KEY"].setText("sk-wrong")
    text = check_part(dialog, qtbot, "writer")
    assert text.startswith("✗ ") and "refused WRITER_API_KEY" in text
    assert "sk-wrong" not in text and WRITER_KEY not in text
    dialog.reject()
