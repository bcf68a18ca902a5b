import hashlib
import io

from PIL import Image, ImageStat

from app.core.models import Shot, ShotType
from app.core.renderers import RenderRequest
from app.core.renderers.draft import DraftRenderer
from app.core.renderers.panel import PanelSpec, render_panel_png
from app.core.storage.local import LocalBlobStore


def shot(shot_type=ShotType.MEDIUM, seed=5):
    return Shot(run_id="20261127-000000-abcdef", shot_id="s02-03", scene=2, index=3,
                number="2C", shot_type=shot_type, camera="dolly in",
                description="Mara climbs the spiral stairs with a lantern.", seed=seed)


async def test_renders_a_png_panel_into_the_store_under_the_shared_key_scheme(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    result = await DraftRenderer(store).render_shot(
        RenderRequest(shot=shot(), scene_heading="INT. LIGHTHOUSE - NIGHT", attempt=2,
                      width=640, height=360))

    key = "runs/20261127-000000-abcdef/shots/s02-03/2.png"
    assert result.image.key == key
    data = (tmp_path / "blobs" / key).read_bytes()
    assert result.image.sha256 == hashlib.sha256(data).hexdigest()
    assert result.image.bytes == len(data)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (640, 360)
    assert result.image.store == "local" and result.image.seed == 5
    assert set(result.timings) == {"render_s", "upload_s"}


def spec(kind="WS", seed=1, **kw):
    base = dict(width=512, height=288, seed=seed, shot_type=kind, number="1A",
                heading="EXT. SEA - DAY", description="Waves.")
    return PanelSpec(**{**base, **kw})


def test_panels_are_deterministic_and_differ_by_shot_type_and_seed():
    assert render_panel_png(spec()) == render_panel_png(spec())
    kinds = [t.value for t in ShotType]
    images = {render_panel_png(spec(kind=k)) for k in kinds}
    assert len(images) == len(kinds)
    assert render_panel_png(spec(seed=1)) != render_panel_png(spec(seed=2))


def test_night_scenes_are_darker_than_day_scenes():
    def brightness(heading):
        image = Image.open(io.BytesIO(render_panel_png(spec(heading=heading)))).convert("L")
        return ImageStat.Stat(image).mean[0]

    assert brightness("EXT. SEA - NIGHT") < brightness("EXT. SEA - DAY") - 10


def test_a_very_long_description_still_fits_the_panel():
    data = render_panel_png(spec(description="word " * 2000, heading="X" * 500))
    assert Image.open(io.BytesIO(data)).size == (512, 288)
