"""Provenance in PNG text chunks: written by the draft renderer, read back, any language."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import replace

import pytest
from PIL import Image, ImageChops

from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import RunOptions, Shot, ShotType
from app.core.pipeline import Pipeline
from app.core.provenance import (
    KEY,
    Provenance,
    ProvenanceError,
    embed_chunks,
    now_iso,
    parse_provenance,
    png_info,
    provenance_chunks,
    read_chunks,
    read_provenance,
)
from app.core.renderers import RenderRequest
from app.core.renderers.draft import MODEL, DraftRenderer
from app.core.renderers.panel import PanelSpec, render_panel_png
from app.core.storage.local import LocalBlobStore
from app.core.writers.draft import DraftWriter

SPEC = PanelSpec(width=160, height=90, seed=1, shot_type="MS", number="1A",
                 heading="EXT. SEA - DAY", description="Waves.")


def provenance(**changes) -> Provenance:
    base = Provenance(run_id="20261127-000000-abcdef", scene=2, shot_id="s02-03", attempt=2,
                      prompt="medium shot. Mara climbs the stairs.", seed=77, model="flux-schnell",
                      shot_number="2C", negative_prompt="text, watermark", width=1024,
                      height=576, endpoint="ep123", job_id="job-9",
                      timings={"render_s": 1.25, "upload_s": 0.1},
                      created_at="2026-11-27T10:00:00+00:00")
    return replace(base, **changes)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk, straight from the bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        chunks.append((kind, data[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks


def test_chunks_round_trip_through_a_png():
    p = provenance()
    data = render_panel_png(SPEC, provenance_chunks(p))
    assert read_provenance(data) == p
    chunks = read_chunks(data)
    assert chunks["Description"] == p.prompt and chunks["Source"] == "flux-schnell"
    assert chunks["Software"].startswith("Storyreel ")
    assert chunks["Comment"] == ("run 20261127-000000-abcdef, scene 2, shot 2C (s02-03), "
                                 "attempt 2, seed 77")
    assert chunks["Creation Time"] == "2026-11-27T10:00:00+00:00"


def test_every_chunk_is_itxt_and_long_ones_are_compressed():
    p = provenance(prompt="a very long prompt, " * 40)
    data = render_panel_png(SPEC, provenance_chunks(p))
    text_chunks = [(kind, body) for kind, body in png_chunks(data)
                   if kind in (b"tEXt", b"zTXt", b"iTXt")]
    assert {kind for kind, _ in text_chunks} == {b"iTXt"}
    by_key = {body.split(b"\0", 1)[0]: body for _, body in text_chunks}
    _, rest = by_key[b"Description"].split(b"\0", 1)
    assert rest[0] == 1  # compression flag
    compressed = rest[2:].split(b"\0", 2)[2]  # after language tag and translated keyword
    assert zlib.decompress(compressed).decode() == p.prompt
    assert read_provenance(data) == p


def test_text_beyond_latin_1_survives():
    p = provenance(prompt="Маяк в шторм, 灯台と嵐, مَنارة — café ☕ “quoted”",
                   negative_prompt="текст", model="模型", shot_number="2Ç")
    data = render_panel_png(SPEC, provenance_chunks(p))
    again = read_provenance(data)
    assert again == p
    assert read_chunks(data)["Description"] == p.prompt


def test_the_chunks_leave_the_pixels_alone():
    plain = Image.open(io.BytesIO(render_panel_png(SPEC)))
    marked = Image.open(io.BytesIO(render_panel_png(SPEC, provenance_chunks(provenance()))))
    assert ImageChops.difference(plain.convert("RGB"), marked.convert("RGB")).getbbox() is None
    assert read_provenance(render_panel_png(SPEC)) is None  # no chunks, no provenance


def test_building_chunks_is_pure():
    assert provenance_chunks(provenance()) == provenance_chunks(provenance())
    chunks = provenance_chunks(provenance(endpoint="", job_id="", created_at=""))
    assert "Creation Time" not in chunks
    assert parse_provenance(chunks) == provenance(endpoint="", job_id="", created_at="")


def test_unreadable_provenance_is_a_typed_error_and_unknown_fields_are_ignored():
    good = provenance_chunks(provenance())
    with pytest.raises(ProvenanceError, match="cannot be read"):
        parse_provenance({KEY: "{not json"})
    with pytest.raises(ProvenanceError, match="unknown schema 9"):
        parse_provenance({KEY: good[KEY].replace('"schema":1', '"schema":9')})
    with pytest.raises(ProvenanceError):
        parse_provenance({KEY: '{"schema": 1, "run_id": "r"}'})  # fields missing
    newer = good[KEY].replace('"schema":1', '"schema":1,"lora":"x"')
    assert parse_provenance({KEY: newer}) == provenance()


def test_pillow_keeps_them_when_given_png_info(tmp_path):
    image = Image.new("RGB", (8, 8))
    path = tmp_path / "x.png"
    image.save(path, pnginfo=png_info(provenance_chunks(provenance())))
    assert read_provenance(path) == provenance()
    with Image.open(path) as opened:
        assert read_provenance(opened) == provenance()


def test_embedding_into_finished_png_bytes_reads_back_like_encoding():
    plain = render_panel_png(SPEC)
    p = provenance(prompt="Маяк в шторм, 灯台. " + "long " * 80)
    marked = embed_chunks(plain, provenance_chunks(p))
    assert read_provenance(marked) == p
    assert read_chunks(marked) == read_chunks(render_panel_png(SPEC, provenance_chunks(p)))
    kinds = [kind for kind, _ in png_chunks(marked)]
    assert kinds.index(b"iTXt") < kinds.index(b"IDAT") and kinds[-1] == b"IEND"
    at = 8
    while at < len(marked):  # framing and CRC of every chunk
        (length,) = struct.unpack(">I", marked[at:at + 4])
        (crc,) = struct.unpack(">I", marked[at + 8 + length:at + 12 + length])
        assert crc == zlib.crc32(marked[at + 4:at + 8 + length])
        at += 12 + length
    assert at == len(marked)
    # the image data is copied as it is
    assert [c for c in png_chunks(marked) if c[0] == b"IDAT"] == [
        c for c in png_chunks(plain) if c[0] == b"IDAT"]
    with Image.open(io.BytesIO(marked)) as image:
        image.verify()


def test_embedding_again_replaces_the_chunks_it_writes_and_keeps_others():
    data = render_panel_png(SPEC, {"Author": "Mara"})
    once = embed_chunks(data, provenance_chunks(provenance(attempt=1)))
    twice = embed_chunks(once, provenance_chunks(provenance(attempt=2)))
    assert read_provenance(twice).attempt == 2
    keys = [body.split(b"\0", 1)[0] for kind, body in png_chunks(twice)
            if kind in (b"tEXt", b"zTXt", b"iTXt")]
    assert sorted(keys) == sorted({*keys})  # no keyword twice
    assert read_chunks(twice)["Author"] == "Mara"


@pytest.mark.parametrize("data", [b"", b"GIF89a...", b"\x89PNG\r\n\x1a\n",
                                  b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"])
def test_embedding_refuses_what_is_not_a_png(data):
    with pytest.raises(ValueError, match="not a PNG"):
        embed_chunks(data, provenance_chunks(provenance()))


def test_now_iso_is_utc_to_the_second():
    stamp = now_iso()
    assert stamp.endswith("+00:00") and len(stamp) == len("2026-11-27T10:00:00+00:00")


async def test_the_draft_renderer_writes_provenance_into_every_image(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    shot = Shot(run_id="20261127-000000-abcdef", shot_id="s02-03", scene=2, index=3,
                number="2C", shot_type=ShotType.MEDIUM, description="Mara climbs.",
                prompt="medium shot. Mara climbs the stairs, 灯台.", seed=5)
    result = await DraftRenderer(store).render_shot(RenderRequest(
        shot=shot, scene_heading="INT. LIGHTHOUSE - NIGHT", attempt=3, width=160, height=90,
        negative_prompt="text"))
    p = read_provenance(await store.get_bytes(result.image.key))
    assert (p.run_id, p.scene, p.shot_id, p.shot_number, p.attempt) == (
        shot.run_id, 2, "s02-03", "2C", 3)
    assert (p.prompt, p.seed, p.model, p.negative_prompt) == (shot.prompt, 5, MODEL, "text")
    assert (p.width, p.height) == (160, 90)
    assert set(p.timings) == {"draw_s"} and p.timings["draw_s"] >= 0
    assert p.created_at.startswith("20")


async def test_a_whole_run_carries_provenance_shot_by_shot(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    pipeline = Pipeline(DraftWriter(), DraftRenderer(store), MemoryHistory())
    run = await pipeline.start(from_text("A keeper and a storm. Mara keeps the lamp lit."),
                               RunOptions(seed=4, max_shots=3, width=128, height=72))
    for shot in run.shots:
        p = read_provenance(store.local_path(shot.image.key))
        assert (p.run_id, p.shot_id, p.prompt, p.seed) == (run.run_id, shot.shot_id,
                                                           shot.prompt, shot.seed)
