"""``export --format screenplay-pdf``: the screenplay on the industry's page."""

from __future__ import annotations

from pathlib import Path

import pytest
import reportlab
from pypdf import PdfReader

from app.core import ideas
from app.core.export import BadExportOptions, ExportOptions, export_run
from app.core.export.screenplay_pdf import write_pdf
from tests.core.test_screenplay import SCRIPTS, draft_run, no_image
from tests.test_cli import json_lines, storyreel

INCH = 72


def spans(page) -> list[tuple[float, float, str, float, str]]:
    """Each piece of text on ``page``: x, y (points from the bottom left), font, size, text."""
    found = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            found.append((round(tm[4] + cm[4], 1), round(tm[5] + cm[5], 1),
                          font.get("/BaseFont") if font else None, size, text.strip()))

    page.extract_text(visitor_text=visit)
    return found


@pytest.fixture(scope="module")
def brick(tmp_path_factory) -> PdfReader:
    out = tmp_path_factory.mktemp("pdf") / "brick.pdf"
    text = (SCRIPTS / "fountain-reference/Brick And Steel.fountain").read_text("utf-8-sig")
    write_pdf(text, "unused", str(out))
    return PdfReader(out)


def test_letter_pages_in_courier_12_with_a_title_page(brick):
    assert len(brick.pages) >= 3
    assert all((float(p.mediabox.width), float(p.mediabox.height)) == (612, 792)
               for p in brick.pages)
    everything = [s for p in brick.pages for s in spans(p)]
    assert {font for _, _, font, _, _ in everything} <= {"/Courier", "/Courier-Bold",
                                                        "/Courier-Oblique",
                                                        "/Courier-BoldOblique"}
    assert {size for _, _, _, size, _ in everything} == {12}
    title = [text for _, _, _, _, text in spans(brick.pages[0])]
    assert title[:4] == ["BRICK & STEEL", "FULL RETIRED", "Written by", "Stu Maschwitz"]
    assert "EXT. BRICK'S PATIO - DAY" not in title  # the script starts on the next page


def test_industry_margins_and_indents(brick):
    page = spans(brick.pages[2])  # the script's second page
    at = {text: (x, y) for x, y, _, _, text in page}
    assert at["2."][1] > 792 - INCH and at["2."][0] + 2 * 7.2 == pytest.approx(612 - INCH)
    assert at["EXT. BRICK'S POOL - DAY"][0] == 1.5 * INCH  # headings at the 1.5" margin
    assert at["STEEL"][0] == pytest.approx(3.7 * INCH)  # cues
    assert at["They're coming out of the woodwork!"][0] == 2.5 * INCH  # dialogue
    assert at["(pause)"][0] == pytest.approx(3.1 * INCH)  # parentheticals
    x, _ = at["CUT TO:"]
    assert x + len("CUT TO:") * 7.2 == pytest.approx(612 - INCH)  # transitions flush right
    widest = max(x + len(text) * 7.2 for x, _, _, _, text in page if text != "2.")
    assert widest <= 612 - INCH + 0.01
    lowest = min(y for _, y, _, _, _ in page)
    assert lowest >= INCH - 0.01  # 1" bottom margin
    assert max(y for _, y, _, _, t in page if t != "2.") <= 792 - INCH  # 1" top margin


def test_page_numbers_only_from_the_second_page_of_the_script(brick):
    first = [t for _, _, _, _, t in spans(brick.pages[1])]
    assert first[0] == "EXT. BRICK'S PATIO - DAY" and "1." not in first
    for n, page in enumerate(brick.pages[2:], 2):
        assert spans(page)[0][4] == f"{n}."


def test_headings_are_in_capitals_including_the_ones_screenplain_misses(tmp_path):
    text = "Title: Small\n\n.inside the van\n\nVans rattle.\n\ni./e. pickup truck - dusk\n\nGo.\n"
    write_pdf(text, "", str(tmp_path / "x.pdf"))
    lines = PdfReader(tmp_path / "x.pdf").pages[1].extract_text().splitlines()
    assert lines[:4] == ["INSIDE THE VAN", "Vans rattle.", "I./E. PICKUP TRUCK - DUSK", "Go."]


def test_the_pages_grow_with_the_script(tmp_path):
    scene = "INT. ROOM {n} - DAY\n\nSomething happens in room {n}.\n\nANA\nWhere now?\n\n"
    counts = []
    for scenes in (1, 20, 80):
        out = tmp_path / f"{scenes}.pdf"
        write_pdf("".join(scene.format(n=n) for n in range(scenes)), "Rooms", str(out))
        counts.append(len(PdfReader(out).pages))
    assert counts[0] == 2 and counts[0] < counts[1] < counts[2]


async def test_a_run_exports_with_its_title_page_and_every_heading_on_a4(tmp_path):
    [idea] = ideas.read(SCRIPTS / "storyreel/treatment-atx.md")
    run = await draft_run(idea)
    out = await export_run(run, "screenplay-pdf", tmp_path / "script", image_path=no_image,
                           options=ExportOptions(page_size="a4"))
    assert out == tmp_path / "script.pdf"
    reader = PdfReader(out)
    assert reader.metadata.title == run.title == "The Lantern Keeper"
    assert (float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)) == (
        pytest.approx(595.3, abs=0.1), pytest.approx(841.9, abs=0.1))
    assert reader.pages[0].extract_text().splitlines()[0] == "The Lantern Keeper"
    text = "\n".join(p.extract_text() for p in reader.pages[1:])
    assert all(scene.heading in text for scene in run.scenes)


def test_control_characters_never_reach_the_page(tmp_path):
    text = "Title: Bad \x1b[31mTitle\x07\n\nINT. A & <B> - DAY\n\nA\x00 bell\u202e rings.\n"
    write_pdf(text, "", str(tmp_path / "x.pdf"))
    reader = PdfReader(tmp_path / "x.pdf")
    words = "\n".join(p.extract_text() for p in reader.pages)
    assert "Bad [31mTitle" in words and "INT. A & <B> - DAY" in words and "A bell rings." in words
    assert not any(ch in words for ch in "\x1b\x07\x00\u202e")


def test_the_command_line_exports_a_screenplay_pdf(tmp_path, home):
    [run] = json_lines(storyreel("run", str(SCRIPTS / "storyreel/brick-variations.fountain"),
                                 "--json", "--max-shots", "3").stdout)
    out = tmp_path / "script.pdf"
    done = storyreel("export", run["run_id"], "--format", "screenplay-pdf", "--out", str(out),
                     "--page-size", "letter")
    assert done.returncode == 0, done.stderr
    reader = PdfReader(out)
    assert float(reader.pages[0].mediabox.height) == 792
    assert reader.pages[0].extract_text().splitlines()[0] == "Night Shift"
    assert "I./E. PICKUP TRUCK - MOVING - DUSK" in reader.pages[-1].extract_text()


async def test_characters_courier_cannot_print_are_named_and_a_ttf_can_be_embedded(tmp_path):
    [idea] = ideas.read(SCRIPTS / "storyreel/treatment-atx.md")
    run = await draft_run(idea)
    run.script.screenplay = run.script.screenplay.replace("Mara climbs", "Жизнь: Mara climbs")
    messages: list[str] = []
    await export_run(run, "screenplay-pdf", tmp_path / "a.pdf", image_path=no_image,
                     progress=lambda f, m: messages.append(m))
    [warning] = [m for m in messages if "no glyph" in m]
    assert "5 characters" in warning and "Courier" in warning and "Ж" in warning

    vera = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
    messages.clear()
    out = await export_run(run, "screenplay-pdf", tmp_path / "b.pdf", image_path=no_image,
                           options=ExportOptions(font=vera),
                           progress=lambda f, m: messages.append(m))
    fonts = {str(f.get_object()["/BaseFont"]) for f in
             PdfReader(out).pages[1]["/Resources"]["/Font"].values()}
    assert any(f.endswith("+BitstreamVeraSans-Roman") for f in fonts)  # the TTF, embedded
    assert any("Vera.ttf" in m and "no glyph" in m for m in messages)  # Vera: no Cyrillic

    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(BadExportOptions, match="cannot load the font"):
        await export_run(run, "screenplay-pdf", tmp_path / "c.pdf", image_path=no_image,
                         options=ExportOptions(font=bad))
    assert not (tmp_path / "c.pdf").exists()


def test_only_what_is_printed_counts_as_missing_glyphs(tmp_path):
    text = ("Title: Ж\n\n[[заметка]]\n\n/* скрыто */\n\n# Акт\n\nINT. Ф - DAY\n\nЫ.\n\n"
            "ЮЛЯ\n(э)\nЁ\n\nБОБ ^\nщ\n\nCUT TO:\n")  # a dual dialogue's both sides too
    assert write_pdf(text, "", str(tmp_path / "x.pdf")) == "".join(sorted("ЖФЫЮЛЯэЁБОщ"))
