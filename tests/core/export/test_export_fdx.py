"""``export --format fdx``: the run's screenplay as Final Draft XML that reads back."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from app.core import ideas, screenplay, screenplay_fdx
from app.core.export import FORMATS, export_run
from app.core.export.fdx import to_fdx
from app.core.ideas import IdeaKind
from app.core.models import Run, Script
from app.core.writers.outline import outline
from tests.core.test_screenplay import CORPUS, SCRIPTS, draft_run, no_image
from tests.test_cli import json_lines, storyreel

# Every script of the corpus with a story but one: the-heir.fountain is an outline whose
# scenes come from its sections (# Act One, # Act Two), and FDX has no sections: it comes
# back as one scene. Its title still does (see the title test below).
ROUND_TRIP = sorted(n for n, e in CORPUS.items()
                    if e is not None and n != "storyreel/the-heir.fountain")


@pytest.mark.parametrize("name", ROUND_TRIP)
async def test_a_run_exported_as_fdx_imports_again_with_the_same_scenes_and_title(name, tmp_path):
    [idea] = ideas.read(SCRIPTS / name)
    run = await draft_run(idea)
    out = await export_run(run, "fdx", tmp_path / "out", image_path=no_image)
    assert out == tmp_path / "out.fdx"
    root = ET.fromstring(out.read_bytes())  # well-formed, UTF-8
    assert (root.tag, root.get("DocumentType"), root.get("Version")) == ("FinalDraft", "Script",
                                                                         "5")
    kinds = {p.get("Type") for p in root.iter("Paragraph")}
    assert kinds <= {"Scene Heading", "Action", "Character", "Parenthetical", "Dialogue",
                     "Transition", "Lyrics", None}  # None: the one around a DualDialogue
    assert ("Scene Heading" in kinds) == bool(screenplay.parse(run.script.screenplay).scenes)
    [again] = ideas.read(out)
    assert again.kind is IdeaKind.FOUNTAIN  # read by our importer, then as Fountain
    story = outline(again)
    assert [s.heading for s in story.scenes] == [s.heading for s in run.scenes]
    assert story.title == run.title
    title_page = [p.findtext("Text") for p in root.find("TitlePage/Content")]
    assert next(t for t in title_page if t) == run.title


def test_every_kind_of_paragraph_scene_numbers_and_page_breaks():
    text = (SCRIPTS / "storyreel/brick-variations.fountain").read_text(encoding="utf-8")
    root = ET.fromstring(to_fdx(text))
    content = root.find("Content")
    paragraphs = [(p.get("Type"), "".join(t.text or "" for t in p.iter("Text")))
                  for p in content.findall("Paragraph")]
    headings = [(p.get("Number"), p.findtext("Text")) for p in content.findall("Paragraph")
                if p.get("Type") == "Scene Heading"]
    assert headings == [("1", "INT. WILL'S BEDROOM - NIGHT (1973)"), ("2A", "EXT. RIVER - DAY"),
                        (None, "I./E. PICKUP TRUCK - MOVING - DUSK")]  # I./E. too
    assert ("Character", "EDWARD (V.O.) (CONT'D)") in paragraphs
    assert ("Lyrics", "Row, row, row your boat") in paragraphs
    dual = content.find("Paragraph/DualDialogue")
    assert [p.get("Type") for p in dual] == ["Character", "Parenthetical", "Dialogue",
                                             "Character", "Dialogue"]
    assert content.find("Paragraph[@Number='2A']").get("StartsNewPage") == "Yes"
    styled = [t.get("Style") for t in content.iter("Text") if t.get("Style")]
    assert "Italic" in styled and "Underline" in styled  # emphasis kept as styles
    assert "*" not in "".join(t.text or "" for t in content.iter("Text") if t.get("Style"))


def test_transitions_parentheticals_and_no_notes_sections_or_boneyard():
    text = ("Title: Storm\n\n# Act One\n\n= the storm comes\n\nINT. HUT - NIGHT\n\n"
            "Rain. [[fix this]]\n\n/* cut: a dog barks */\n\nMARA\n(whispering)\nHush.\n\n"
            "CUT TO:\n\n> FADE OUT.\n")
    root = ET.fromstring(to_fdx(text))
    paragraphs = [(p.get("Type"), "".join(t.text or "" for t in p.iter("Text")))
                  for p in root.find("Content").iter("Paragraph")]
    assert paragraphs == [("Scene Heading", "INT. HUT - NIGHT"), ("Action", "Rain."),
                          ("Character", "MARA"), ("Parenthetical", "(whispering)"),
                          ("Dialogue", "Hush."), ("Transition", "CUT TO:"),
                          ("Transition", "FADE OUT.")]


def test_text_is_escaped_and_control_characters_are_removed():
    text = ("Title: Fish & <Chips> \x1b[31m\x07\n\nINT. \"BAR\" & <GRILL> - DAY\n\n"
            "A bell\x07 rings\x00 & a \u202eevil\u202c sign says <b>OPEN</b> \ufffe.\n")
    data = to_fdx(text)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = ET.fromstring(data)
    words = "".join(t.text or "" for t in root.iter("Text"))
    assert "Fish & <Chips> [31m" in words and "INT. \"BAR\" & <GRILL> - DAY" in words
    assert "A bell rings & a evil sign says <b>OPEN</b> ." in words
    assert not any(ch in words for ch in "\x1b\x07\x00\u202e\u202c\ufffe")
    assert b"&amp;" in data and b"&lt;GRILL&gt;" in data


def test_a_script_without_a_title_page_gets_the_run_title_and_reads_back():
    fountain = "INT. KITCHEN - DAY\n\nThe kettle sings.\n\nJO\nTea?\n"
    fountain_again = screenplay_fdx.to_fountain(to_fdx(fountain, "Tea Time"), "x.fdx")
    assert fountain_again.startswith("Title: Tea Time\n")
    assert "INT. KITCHEN - DAY" in fountain_again and "JO\nTea?" in fountain_again


def test_the_title_page_keeps_credit_author_and_the_rest():
    text = ("Title: The Heir\nCredit: Written by\nAuthor: Ann Lee\nDraft date: 1 May\n"
            "Contact:\n    ann@example.invalid\nStudio: Nowhere\n\nINT. HALL - DAY\n\nDust.\n")
    page = ET.fromstring(to_fdx(text)).find("TitlePage/Content")
    lines = [(p.get("Alignment"), p.findtext("Text")) for p in page]
    assert len(lines) == 54 and lines[18:22] == [("Center", "The Heir"), ("Center", ""),
                                                 ("Center", "Written by"), ("Center", "Ann Lee")]
    assert lines[-3:] == [(None, "1 May"), (None, "ann@example.invalid"),
                          (None, "Studio: Nowhere")]  # at the foot, left
    again = screenplay_fdx.to_fountain(to_fdx(text), "x.fdx")
    assert again.startswith("Title: The Heir\nCredit: Written by\nAuthor: Ann Lee\nNotes:\n")
    assert "1 May" in again and "ann@example.invalid" in again and "Studio: Nowhere" in again


async def test_a_run_without_a_script_is_refused(tmp_path):
    from app.core.export import NothingToExport
    with pytest.raises(NothingToExport, match="no script"):
        await export_run(Run(idea="x", script=Script(title="t", logline="", screenplay=" ")),
                         "fdx", tmp_path / "x.fdx", image_path=no_image)
    assert not (tmp_path / "x.fdx").exists()
    assert FORMATS["fdx"].suffix == ".fdx"


def test_the_command_line_exports_fdx(tmp_path, home):
    [run] = json_lines(storyreel("run", str(SCRIPTS / "storyreel/brick-variations.fountain"),
                                 "--json", "--max-shots", "3").stdout)
    out = tmp_path / "script.fdx"
    done = storyreel("export", run["run_id"], "--format", "fdx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    [idea] = ideas.read(out)
    assert [s.heading for s in outline(idea).scenes] == [
        "INT. WILL'S BEDROOM - NIGHT (1973)", "EXT. RIVER - DAY",
        "I./E. PICKUP TRUCK - MOVING - DUSK"]


async def test_an_outline_of_sections_keeps_its_title_and_its_story(tmp_path):
    [idea] = ideas.read(SCRIPTS / "storyreel/the-heir.fountain")
    run = await draft_run(idea)
    out = await export_run(run, "fdx", tmp_path / "heir.fdx", image_path=no_image)
    [again] = ideas.read(out)
    assert outline(again).title == run.title == "THE HEIR"
    words = "".join(t.text or "" for t in ET.fromstring(out.read_bytes()).iter("Text"))
    assert "He left you the house." in words and "Martin watches her from the stairs." in words
    assert "Act One" not in words and "studio wants" not in words  # sections, notes: gone


def test_old_mac_and_windows_line_ends_keep_their_lines():
    for end in ("\r", "\r\n"):
        text = end.join(["Title: Ends", "", "INT. A - DAY", "", "One.", "Two.", ""])
        root = ET.fromstring(to_fdx(text))
        assert [p.get("Type") for p in root.find("Content")] == ["Scene Heading", "Action"]
        assert "".join(t.text for t in root.iter("Text") if t.text).count("\n") == 1
