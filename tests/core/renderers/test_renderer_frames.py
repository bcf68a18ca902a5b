"""Every renderer's frame size for each aspect ratio, and a run's frame set from it."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from app.core import frame
from app.core.history.documents import run_document, run_from_document
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import Run, RunOptions, RunStatus
from app.core.pipeline import Pipeline, RetryPolicy
from app.core.renderers import RenderRequest, size_for
from app.core.renderers.draft import DraftRenderer
from app.core.renderers.runpod import RunPodRenderer, shot_job_input
from app.core.storage.local import LocalBlobStore
from app.core.writers.draft import DraftWriter
from app.worker.handler import parse_input
from app.worker.limits import limits_for
from tests.core.doubles import ScriptedRenderer
from tests.core.renderers.test_runpod_renderer import BUCKET, ENDPOINT, make_renderer, make_shot
from tests.fakes.runpod_server import FakeRunPod, shot_handler
from tests.fakes.writers import StaticWriter

IDEA = from_text("A keeper of a lighthouse finds the lamp dark and climbs to light it.")
# What the renderers draw, by aspect (draft: 1024 on the long side; RunPod: ~1 MP, x16).
DRAFT = {"2.39:1": (1024, 428), "1.85:1": (1024, 554), "16:9": (1024, 576),
         "4:3": (1024, 768), "1:1": (1024, 1024), "9:16": (576, 1024)}
GPU = {"2.39:1": (1568, 656), "1.85:1": (1392, 752), "16:9": (1360, 768),
       "4:3": (1168, 880), "1:1": (1024, 1024), "9:16": (768, 1360)}


def runpod_renderer() -> RunPodRenderer:
    return RunPodRenderer(client=None, endpoint=ENDPOINT, bucket=BUCKET)  # type: ignore[arg-type]


@pytest.mark.parametrize("aspect", list(frame.ASPECTS))
def test_the_draft_renderer_draws_1024_on_the_long_side(tmp_path, aspect):
    assert DraftRenderer(LocalBlobStore(tmp_path)).size_for(aspect) == DRAFT[aspect]


@pytest.mark.parametrize("aspect", list(frame.ASPECTS))
def test_the_runpod_renderer_asks_what_every_worker_takes(aspect):
    width, height = runpod_renderer().size_for(aspect)
    assert (width, height) == GPU[aspect]
    assert width % 16 == 0 and height % 16 == 0
    assert abs(width / height - frame.ratio(aspect)) / frame.ratio(aspect) < 0.01
    # the smallest worker (offloaded) takes it, and the job input passes the worker's checks
    assert limits_for(24.0, offloaded=True).check(width, height, 4) is None
    request = RenderRequest(shot=make_shot(), scene_heading="EXT. CLIFF - DAY", attempt=1,
                            width=width, height=height)
    job = parse_input(shot_job_input(request, bucket=BUCKET))
    assert (job.width, job.height) == (width, height)


def test_a_renderer_without_size_for_draws_at_the_draft_size():
    assert size_for(ScriptedRenderer(), "9:16") == (576, 1024)


async def test_a_9_16_run_draws_portrait_draft_panels(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    history = MemoryHistory()
    pipeline = Pipeline(DraftWriter(), DraftRenderer(store), history, concurrency=2)
    run = await pipeline.start(IDEA, RunOptions(seed=3, max_shots=2, aspect="9:16"))
    assert run.status is RunStatus.COMPLETED, run.error
    stored = await history.get_run(run.run_id)
    assert (stored.aspect, stored.width, stored.height) == ("9:16", 576, 1024)
    for shot in stored.shots:
        assert (shot.image.width, shot.image.height) == (576, 1024)
        with Image.open(store.local_path(shot.image.key)) as image:
            assert image.size == (576, 1024)


async def test_a_runpod_run_asks_the_worker_for_the_aspects_gpu_size():
    server = FakeRunPod()
    server.handlers[ENDPOINT] = shot_handler()
    async with server:
        renderer = make_renderer(server)
        try:
            pipeline = Pipeline(StaticWriter(1, 2), renderer, MemoryHistory(),
                                retry=RetryPolicy(max_attempts=1), rng=random.Random(5))
            run = await pipeline.start(IDEA, RunOptions(seed=9, aspect="2.39:1"))
        finally:
            await renderer.aclose()
    assert run.status is RunStatus.COMPLETED, run.error
    assert (run.aspect, run.width, run.height) == ("2.39:1", 1568, 656)
    assert {(j.input["width"], j.input["height"]) for j in server.submissions} == {(1568, 656)}


async def test_a_size_given_explicitly_is_kept_and_names_its_aspect(tmp_path):
    pipeline = Pipeline(DraftWriter(), DraftRenderer(LocalBlobStore(tmp_path)), MemoryHistory())
    run = await pipeline.start(IDEA, RunOptions(seed=3, max_shots=1, width=256, height=256))
    assert (run.aspect, run.width, run.height) == ("1:1", 256, 256)
    run = await pipeline.start(IDEA, RunOptions(seed=3, max_shots=1, width=320, aspect="9:16"))
    assert (run.aspect, run.width, run.height) == ("9:16", 320, 568)


async def test_an_aspect_we_do_not_draw_is_refused_before_anything_is_written(tmp_path):
    history = MemoryHistory()
    pipeline = Pipeline(DraftWriter(), DraftRenderer(LocalBlobStore(tmp_path)), history)
    with pytest.raises(frame.AspectError, match=r"'3:2' is not one of: 2\.39:1"):
        await pipeline.start(IDEA, RunOptions(aspect="3:2"))
    assert await history.list_runs() == []


@pytest.mark.parametrize(("width", "height", "aspect"), [
    (1024, 576, "16:9"), (1024, 1024, "1:1"), (576, 1024, "9:16"), (1568, 656, "2.39:1")])
def test_a_run_stored_before_aspects_gets_the_one_nearest_its_size(width, height, aspect):
    doc = run_document(Run(idea="x", width=width, height=height, aspect="16:9"))
    del doc["aspect"]
    assert run_from_document(doc).aspect == aspect
    assert Run.model_validate({"idea": "x", "width": width, "height": height}).aspect == aspect
    # a run that says its aspect keeps it
    assert run_from_document({**doc, "aspect": "4:3"}).aspect == "4:3"


@pytest.mark.parametrize("aspect", list(frame.ASPECTS))
def test_a_panels_header_and_description_fit_its_frame_whatever_the_aspect(aspect):
    from app.core.renderers.panel import ACCENT, INK, PanelSpec, render_panel

    width, height = frame.draft_size(aspect)
    spec = PanelSpec(width=width, height=height, seed=3, shot_type="MCU", number="12B",
                     heading="INT. LIGHTHOUSE LAMP ROOM - NIGHT", camera="slow pan left",
                     description="The keeper climbs the spiral stairs with a lantern " * 3)
    image = render_panel(spec)
    header = image.crop((0, 0, width, max(18, min(height, round(width * 9 / 16)) // 11)))
    pixels = header.load()
    accent = [x for x in range(header.width) for y in range(header.height)
              if pixels[x, y] == ACCENT]
    ink = [x for x in range(header.width) for y in range(header.height) if pixels[x, y] == INK]
    assert accent and ink
    assert max(accent) < min(ink)  # number, size and move on the left; the heading after them
    # the description is drawn under the frame
    footer = image.crop((0, height - max(30, height // 8), width, height)).convert("L")
    assert footer.getextrema()[0] < 100


async def test_a_shot_drawn_again_after_the_aspect_changed_takes_the_new_frame(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    history = MemoryHistory()
    pipeline = Pipeline(DraftWriter(), DraftRenderer(store), history, concurrency=2)
    run = await pipeline.start(IDEA, RunOptions(seed=3, max_shots=2))
    assert (run.width, run.height) == (1024, 576)
    await history.update_run(run.run_id, {"aspect": "9:16"})  # as an aspect edit leaves it
    shot = run.shots[0]
    again = await pipeline.regenerate(run.run_id, shot.shot_id)
    assert (again.aspect, again.width, again.height) == ("9:16", 576, 1024)
    stored = await history.get_run(run.run_id)
    assert (stored.width, stored.height) == (576, 1024)
    with Image.open(store.local_path(stored.shot(shot.shot_id).image.key)) as image:
        assert image.size == (576, 1024)
