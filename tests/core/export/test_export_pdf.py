"""The PDF storyboard, opened back with pypdf: pages, page size, text, fonts, images."""

from __future__ import annotations

import math
import re

import pytest
from pypdf import PdfReader

from app.core.export import BadExportOptions, ExportOptions, export_run
from app.core.export.pdf import PAGE_POINTS, layout_for
from app.core.models import Script
from tests.core.export.boards import make_board

SHOT_NUMBER = re.compile(r"^(\d+[A-Z]+) {2}[A-Z0-9]+", re.MULTILINE)


def page_size(page) -> tuple[float, float]:
    box = page.mediabox
    return float(box.width), float(box.height)


@pytest.mark.parametrize(("size", "orientation", "columns"), [
    ("a4", "landscape", 3), ("letter", "portrait", 2), ("a4", "portrait", 1),
    ("letter", "landscape", 6), ("a4", "landscape", 1), ("letter", "portrait", 4),
])
async def test_title_page_then_every_panel_once_in_story_order(board, tmp_path, size,
                                                               orientation, columns):
    options = ExportOptions(page_size=size, orientation=orientation, columns=columns)
    written = await export_run(board.run, "pdf", tmp_path / "board.pdf",
                               image_path=board.image_path, options=options)
    reader = PdfReader(written)
    layout = layout_for(size, orientation, columns, board.run.width / board.run.height)
    shots = len(board.run.shots)

    assert len(reader.pages) == 1 + math.ceil(shots / layout.per_page)
    w, h = PAGE_POINTS[size]
    expected = (h, w) if orientation == "landscape" else (w, h)
    for page in reader.pages:
        assert page_size(page) == pytest.approx(expected, abs=0.01)

    title_text = " ".join(reader.pages[0].extract_text().split())  # lines wrap by page width
    assert board.run.title in title_text and board.run.script.logline in title_text
    assert f"page 1 of {len(reader.pages)}" in title_text
    per_page = [SHOT_NUMBER.findall(p.extract_text()) for p in reader.pages[1:]]
    assert [n for numbers in per_page for n in numbers] == [s.number for s in board.run.shots]
    assert all(len(numbers) == layout.per_page for numbers in per_page[:-1])  # full but last
    assert 1 <= len(per_page[-1]) <= layout.per_page
    # every panel carries its picture
    assert sum(len(page.images) for page in reader.pages[1:]) == shots


async def test_panels_carry_heading_description_and_dialogue(board, tmp_path):
    written = await export_run(board.run, "pdf", tmp_path / "board.pdf",
                               image_path=board.image_path,
                               options=ExportOptions(columns=2, orientation="portrait"))
    text = " ".join(p.extract_text() for p in PdfReader(written).pages[1:])
    text = " ".join(text.split())
    for scene in board.run.scenes:
        assert scene.heading in text
    talking = next(s for s in board.run.shots if s.dialogue)
    assert talking.dialogue.split()[0] in text and f"{talking.characters[0]}: “" in text
    assert board.run.shots[0].description.split(".")[0] in text


async def test_the_title_page_lists_the_scenes_and_metadata_names_the_run(board, tmp_path):
    written = await export_run(board.run, "pdf", tmp_path / "board.pdf",
                               image_path=board.image_path)
    reader = PdfReader(written)
    first = reader.pages[0].extract_text()
    assert f"{len(board.run.scenes)} scenes, {len(board.run.shots)} shots" in first
    assert all(f"{s.index}. {s.heading}" in " ".join(first.split()) for s in board.run.scenes)
    assert reader.metadata.title == board.run.title
    assert board.run.run_id in reader.metadata["/Keywords"]


async def test_the_font_is_embedded_so_text_shows_everywhere(small_board, tmp_path):
    written = await export_run(small_board.run, "pdf", tmp_path / "b.pdf",
                               image_path=small_board.image_path)
    reader = PdfReader(written)
    fonts = reader.pages[1]["/Resources"]["/Font"]
    assert fonts
    for ref in fonts.values():
        font = ref.get_object()
        descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font \
            else font
        descriptor = descendant["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor  # the TrueType program is inside the PDF


async def test_non_latin_text_is_kept_and_characters_without_a_glyph_are_reported(tmp_path):
    board = await make_board(tmp_path, max_shots=2)
    script = board.run.script
    board.run.script = Script(title=script.title, logline="Café crème — “quoted” Жизнь",
                              screenplay=script.screenplay)
    board.run.title = "Mara’s Café"
    messages: list[str] = []
    written = await export_run(board.run, "pdf", tmp_path / "b.pdf",
                               image_path=board.image_path,
                               progress=lambda f, m: messages.append(m))
    first = PdfReader(written).pages[0].extract_text()
    assert "Mara’s Café" in first and "Café crème — “quoted”" in first
    # Cyrillic is not in the bundled font: it prints as boxes, and the export says so
    [warning] = [m for m in messages if "no glyph" in m]
    assert "5 characters" in warning and "Ж" in warning


async def test_shots_without_an_image_get_a_marked_empty_panel(tmp_path):
    board = await make_board(tmp_path, max_shots=3)
    board.run.shots[1].image = None
    written = await export_run(board.run, "pdf", tmp_path / "b.pdf",
                               image_path=board.image_path)
    reader = PdfReader(written)
    assert "no image (done)" in reader.pages[1].extract_text()
    assert len(reader.pages[1].images) == 2
    assert "3 shots, 1 without an image" in reader.pages[0].extract_text()


async def test_a_font_that_cannot_be_read_is_a_clear_error(small_board, tmp_path):
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(BadExportOptions, match="cannot load the font"):
        await export_run(small_board.run, "pdf", tmp_path / "b.pdf",
                         image_path=small_board.image_path, options=ExportOptions(font=bad))
    assert not (tmp_path / "b.pdf").exists()


@pytest.mark.parametrize("columns", range(1, 7))
@pytest.mark.parametrize(("size", "orientation"), [("a4", "portrait"), ("letter", "landscape")])
def test_every_grid_fits_its_page(size, orientation, columns):
    for aspect in (16 / 9, 2.39, 1.0, 9 / 16):
        layout = layout_for(size, orientation, columns, aspect)
        w, _ = layout.page
        assert layout.rows >= 1 and layout.columns == columns
        x, top = layout.cell_origin(layout.per_page - 1)
        assert x + layout.cell_w <= w - 36 + 0.01  # inside the right margin
        assert top - layout.cell_h >= 36 + 16 - 0.01  # above the footer
        assert layout.image_w / layout.image_h == pytest.approx(aspect)
        assert layout.image_w <= layout.cell_w + 0.01


def test_one_column_on_a_portrait_page_is_a_shot_list_with_text_beside_the_picture():
    layout = layout_for("a4", "portrait", 1, 16 / 9)
    assert layout.text_beside and layout.rows >= 3
    assert layout.text_x >= layout.image_w and layout.text_w >= 150
    assert layout.description_lines >= 6
    assert not layout_for("a4", "landscape", 1, 16 / 9).text_beside
    assert not layout_for("a4", "portrait", 2, 16 / 9).text_beside
