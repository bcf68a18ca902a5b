"""Screenplays read to the Fountain spec, and Markdown and prose read cleanly.

The corpus under ``tests/data/scripts/`` (see its README) is read and run through the
offline pipeline file by file: every scene kept, the right title and cast, and nothing
of a note, a boneyard, a section, a synopsis or markup in any prompt or caption.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from app.core import ideas, screenplay
from app.core.errors import IdeaError
from app.core.export import export_run
from app.core.history.memory import MemoryHistory
from app.core.ideas import IdeaKind, from_text
from app.core.models import RunOptions, RunStatus
from app.core.pipeline import Pipeline, RetryPolicy
from app.core.writers.draft import DraftWriter
from app.core.writers.looks import draft_look, stated_age
from app.core.writers.outline import find_names, outline
from tests.core.doubles import ScriptedRenderer

SCRIPTS = Path(__file__).parents[1] / "data" / "scripts"

# file -> (scenes: its headings, or None for a script without any; the title page's title
# or None; the cast). None in place of all three: the file has no story to draw.
CORPUS: dict[str, tuple[int | None, str | None, set[str]] | None] = {
    "fountain-reference/Boneyard.fountain": (None, None, set()),
    "fountain-reference/Brick And Steel.fountain": (
        8, "BRICK & STEEL FULL RETIRED",
        {"BRICK", "STEEL", "JACK", "DAN", "COGNITO", "MINION", "HANDSOME MAN"}),
    "fountain-reference/CenteredText.fountain": (None, None, set()),
    "fountain-reference/Dialogue.fountain": (None, None, {"ADAM", "EVE", "R2D2"}),
    "fountain-reference/DualDialogue.fountain": (None, None, {"ADAM", "EVE"}),
    "fountain-reference/ForcedElements.fountain": (None, None, {"MCDUCK", "SINGER"}),
    "fountain-reference/Indenting.fountain": (1, None, {"BRICK", "STEEL"}),
    "fountain-reference/MultilineAction.fountain": (None, None, set()),
    "fountain-reference/Notes.fountain": (None, None, set()),
    "fountain-reference/PageBreaks.fountain": (None, None, set()),
    "fountain-reference/SceneHeaders.fountain": (16, None, set()),
    "fountain-reference/SceneNumbers.fountain": (7, None, set()),
    "fountain-reference/SectionHeaders.fountain": None,
    "fountain-reference/Sections-Complex.fountain": (2, None, set()),
    "fountain-reference/Simple.fountain": (3, "A Simple Script", {"MAN"}),
    "fountain-reference/Synopses.fountain": None,
    "fountain-reference/Transitions.fountain": None,
    "screenplain/boneyard.fountain": (1, None, set()),
    "screenplain/dialogue-character-extension.fountain": (None, None, {"HANS"}),
    "screenplain/dialogue-with-blank-line.fountain": (None, None, {"DEALER"}),
    "screenplain/dialogue.fountain": (None, None, {"GIRL", "GUY"}),
    "screenplain/dual-dialogue.fountain": (None, None, {"GIRL", "GUY"}),
    "screenplain/extended-characters.fountain": (None, None, set()),
    "screenplain/forced-action.fountain": (None, None, set()),
    "screenplain/forced-transition.fountain": None,
    "screenplain/indentation.fountain": (1, None, set()),
    "screenplain/notes.fountain": (None, None, set()),
    "screenplain/page-break.fountain": (1, None, set()),
    "screenplain/parenthetical.fountain": (None, None, {"JOHN DOE"}),
    "screenplain/scene-numbers.fountain": (5, None, set()),
    "screenplain/sections.fountain": (2, None, set()),
    "screenplain/simple.fountain": (1, None, {"GUY", "GURL"}),
    "screenplain/title-page.fountain": (None, "My Screenplay", set()),
    "screenplain/utf-8-bom.fountain": (1, None, {"GUY", "GURL"}),
    "screenplain/dialogue-with-blank-line.fdx": (None, None, {"DEALER"}),
    "screenplain/dialogue.fdx": (None, None, {"GIRL", "GUY"}),
    "screenplain/dual-dialogue.fdx": (None, None, {"GIRL", "GUY"}),
    "screenplain/extended-characters.fdx": (None, None, set()),
    "screenplain/forced-action.fdx": (None, None, set()),
    "screenplain/indentation.fdx": (1, None, set()),
    "screenplain/parenthetical.fdx": (None, None, {"JOHN DOE"}),
    "screenplain/simple.fdx": (1, None, {"GUY", "GURL"}),
    "screenplain/utf-8-bom.fdx": (1, None, {"GUY", "GURL"}),
    "storyreel/night-ferry.fdx": (2, "The Night Ferry", {"IRIS", "OLD TOM", "TOM"}),
    "storyreel/the-heir.fountain": (2, "THE HEIR", {"NADIA", "MARTIN"}),
    "storyreel/brick-variations.fountain": (
        3, "Night Shift", {"WILL", "EDWARD", "MCCABE", "SANDRA"}),
    "storyreel/treatment-setext.md": (3, "The Glass Harbour", {"NADIA", "KARL"}),
    "storyreel/treatment-atx.md": (3, "The Lantern Keeper", {"MARA", "THEO"}),
}

# What must never reach a prompt, a caption, a heading, a title or a summary.
MARKUP = re.compile(r"\[\[|\]\]|/\*|\*/|[*_~^@\\<>]|&[a-z]+;|(?:^|\s)#+\s?[A-Za-z]|(?:^|\s)=")


def test_the_corpus_is_all_listed():
    on_disk = {str(p.relative_to(SCRIPTS)) for p in SCRIPTS.rglob("*")
               if p.suffix in (".fountain", ".md", ".fdx") and p.name != "README.md"}
    assert on_disk == set(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_script_reads_with_every_scene_its_title_and_its_cast(name):
    expected = CORPUS[name]
    if expected is None:
        with pytest.raises(IdeaError, match="no scene, action or dialogue"):
            ideas.read(SCRIPTS / name)
        return
    scenes, title, cast = expected
    [idea] = ideas.read(SCRIPTS / name)
    story = outline(idea)
    if scenes is not None:
        assert len(story.scenes) == scenes
    if title is not None:
        assert story.title == title
    assert set(story.cast) == cast


def hidden_texts(raw: str, fountain: bool = True) -> list[str]:
    """The words of every note, boneyard, section and synopsis of a Fountain file."""
    if not fountain:
        return []
    found = re.findall(r"\[\[(.*?)\]\]", raw, re.DOTALL)
    found += re.findall(r"/\*(.*?)\*/", raw, re.DOTALL)
    found += re.findall(r"^[ \t]*#+[ \t]*(\S.*)$", raw, re.MULTILINE)
    found += re.findall(r"^[ \t]*=(?!==)[ \t]*(\S.*)$", raw, re.MULTILINE)
    lines = [ln.strip(" */") for text in found for ln in text.splitlines()]
    return [ln for ln in lines if len(ln) >= 10]


async def draft_run(idea, history=None):
    pipeline = Pipeline(DraftWriter(), ScriptedRenderer(), history or MemoryHistory(),
                        concurrency=4, retry=RetryPolicy(max_attempts=1),
                        rng=random.Random(1))
    return await pipeline.start(idea, RunOptions(seed=3))


def shown_texts(run) -> list[str]:
    texts = [run.title or "", run.script.logline if run.script else ""]
    texts += [c.name + " " + c.description for c in (run.script.characters if run.script else [])]
    texts += [s.heading + " " + s.summary for s in run.scenes]
    texts += [t for s in run.shots for t in (s.prompt, s.description, s.dialogue or "")]
    return texts


@pytest.mark.parametrize("name", sorted(n for n, e in CORPUS.items() if e is not None))
async def test_no_note_boneyard_section_synopsis_or_markup_reaches_a_prompt(name):
    raw = (SCRIPTS / name).read_text(encoding="utf-8-sig")
    [idea] = ideas.read(SCRIPTS / name)
    run = await draft_run(idea)
    assert run.status is RunStatus.COMPLETED
    scenes = CORPUS[name][0]
    if scenes is not None:
        assert len(run.scenes) == scenes  # every scene of the script is in the run
    for text in shown_texts(run):
        assert not MARKUP.search(text), text
        for hidden in hidden_texts(raw, name.endswith(".fountain")):
            assert hidden not in text, (hidden, text)


async def no_image(shot):
    return None


ROUND_TRIP = ["fountain-reference/Brick And Steel.fountain", "storyreel/brick-variations.fountain",
              "storyreel/the-heir.fountain", "storyreel/treatment-setext.md",
              "storyreel/treatment-atx.md", "screenplain/scene-numbers.fountain",
              "storyreel/night-ferry.fdx", "screenplain/simple.fdx"]


@pytest.mark.parametrize("name", ROUND_TRIP)
async def test_a_run_exported_as_fountain_imports_again_with_the_same_scenes(name, tmp_path):
    [idea] = ideas.read(SCRIPTS / name)
    run = await draft_run(idea)
    out = await export_run(run, "fountain", tmp_path / "out.fountain", image_path=no_image)
    [again] = ideas.read(out)
    assert again.kind is IdeaKind.FOUNTAIN
    story = outline(again)
    assert [s.heading for s in story.scenes] == [s.heading for s in run.scenes]
    assert story.title == run.title


# The spec's corners, one by one (fountain.io/syntax), where screenplain alone falls short.

def headings(text: str) -> list[str]:
    return [s.heading for s in screenplay.parse(text).scenes]


def test_a_page_break_directly_before_a_heading_keeps_the_scene():
    text = "INT. ONE - DAY\n\nAction.\n\n===\nEXT. TWO - NIGHT\n\nMore.\n"
    assert headings(text) == ["INT. ONE - DAY", "EXT. TWO - NIGHT"]


def test_every_kind_of_heading_and_a_scene_number():
    text = "\n\n".join(["INT. A - DAY", "EXT B", "EST. C", "INT./EXT. D", "INT/EXT E",
                        "I/E F", "I./E. G", ".FORCED", "int. lower - day", "INT. H - DAY #1A#"])
    play = screenplay.parse(text)
    assert [s.heading for s in play.scenes] == [
        "INT. A - DAY", "EXT B", "EST. C", "INT./EXT. D", "INT/EXT E", "I/E F", "I./E. G",
        "FORCED", "INT. LOWER - DAY", "INT. H - DAY"]
    assert play.scenes[-1].number == "1A"


def test_two_slug_lines_without_a_blank_line_are_action():
    assert headings("INT. HOUSE - DAY\nEXT. HOUSE - DAY\n\nINT. ROOM - DAY\n") == [
        "INT. ROOM - DAY"]


def test_notes_anywhere_and_nested_boneyard_are_gone():
    text = ("INT. ROOM - DAY\n\nShe [[inline note]] waits.\n\n[[a note\n\nover a blank "
            "line]]\n\nHe /* a /* nested */ cut */ runs.\n\n/*\nMARY\nHidden.\n*/\nJOHN\n"
            "Hello.\n")
    [scene] = screenplay.parse(text).scenes
    assert scene.action == ["She waits.", "He runs."]
    assert [(s.character, s.lines) for s in scene.speeches] == [("JOHN", ["Hello."])]


def test_an_unclosed_boneyard_is_kept_as_written():
    assert screenplay.strip_comments("a /* b") == "a /* b"


def test_a_note_before_the_title_page_does_not_hide_it():
    play = screenplay.parse("[[first draft]]\nTitle: The Heir\nAuthor: A\n\nINT. A - DAY\n")
    assert play.title == "The Heir"


def test_title_page_values_on_indented_lines_any_order_custom_keys_and_no_emphasis():
    text = ("Author: Stu\nTitle:\n  _**BRICK & STEEL**_\n\t_**FULL RETIRED**_\n"
            "Genre: Action\nContact:\n    Next Level\n    Solvang\n\nINT. A - DAY\n\nX.\n")
    play = screenplay.parse(text)
    assert play.title == "BRICK & STEEL FULL RETIRED"
    assert play.title_page["Genre"] == ["Action"]
    assert play.title_page["Contact"] == ["Next Level", "Solvang"]
    assert play.title_page["Author"] == ["Stu"]


def test_fade_in_opening_a_script_is_not_a_title_page():
    play = screenplay.parse("FADE IN:\n\nEXT. RIVER - DAY\n\nWater.\n")
    assert play.title_page == {}
    assert play.before[0].transitions == ["FADE IN:"]


def test_cues_with_two_extensions_forced_names_dual_dialogue_and_parentheticals():
    text = ("INT. A - DAY\n\nWILL (V.O.) (CONT'D)\n(softly)\nHello.\n\n@McCABE\nHi.\n\n"
            "EVE ^\nNo.\n")
    [scene] = screenplay.parse(text).scenes
    will, mccabe, eve = scene.speeches
    assert (will.character, will.extensions, will.parentheticals, will.lines) == (
        "WILL", ["V.O.", "CONT'D"], ["(softly)"], ["Hello."])
    assert mccabe.character == "McCABE"
    assert (mccabe.dual, eve.dual) == (True, True)


def test_a_cue_right_after_a_boneyard_is_a_cue():
    text = "INT. A - DAY\n\nAction.\n/* cut */\nBRICK\nHello.\n"
    [scene] = screenplay.parse(text).scenes
    assert [s.character for s in scene.speeches] == ["BRICK"]


def test_emphasis_and_escapes_are_stripped_from_what_is_drawn_and_kept_in_the_script():
    text = ("Title: _**Night**_\n\nINT. A - DAY\n\nRain *falls* on **the** _roof_ and "
            "\\*hammers\\* it.\n")
    idea = from_text(text, suffix=".fountain")
    story = outline(idea)
    assert story.title == "Night"
    assert story.scenes[0].beats == ["Rain falls on the roof and hammers it."]
    assert story.screenplay == text.strip("\n")


def test_lyrics_transitions_centered_the_end_and_directions_are_not_people_or_beats():
    text = ("INT. A - DAY\n\n~Row, row your boat\n\nFADE IN:\n\nCUT TO:  \n\n> THE END <\n\n"
            "OPEN ON:\nA beach.\n")
    [scene] = screenplay.parse(text).scenes
    assert scene.action == ["Row, row your boat", "OPEN ON: A beach."]
    assert scene.transitions == ["FADE IN:", "CUT TO:", "THE END"]
    assert scene.speeches == []


def test_a_fountain_outline_of_sections_and_synopses_becomes_its_scenes_untitled_by_them():
    text = ("Title: The Heir\n\n# Act One\n\n= She comes home.\n\nA churchyard on a cliff. "
            "Rain.\n\n# Act Two\n\n= Secrets.\n\nInside the old house, dust everywhere.\n")
    [idea] = [from_text(text)]
    assert idea.kind is IdeaKind.FOUNTAIN
    story = outline(idea)
    assert story.title == "The Heir"
    assert [s.beats for s in story.scenes] == [
        ["A churchyard on a cliff.", "Rain."], ["Inside the old house, dust everywhere."]]
    assert not any("Act" in s.heading or "Secrets" in " ".join(s.beats)
                   for s in story.scenes)


def test_a_script_with_only_structure_is_refused_with_a_reason():
    with pytest.raises(IdeaError, match="no scene, action or dialogue"):
        from_text("Title: Nothing\n\n# Act One\n\n= Things happen.\n", suffix=".fountain")


def test_a_feature_keeps_every_one_of_its_scenes():
    scenes = "\n\n".join(f"INT. ROOM {n} - DAY\n\nNADIA (30s) waits. Nadia sits.\n\nNADIA\n"
                         f"Line {n}." for n in range(1, 191))
    story = outline(from_text(f"Title: Long\n\n{scenes}\n"))
    assert len(story.scenes) == 190
    assert story.scenes[-1].heading == "INT. ROOM 190 - DAY"


def test_long_prose_is_grouped_into_scenes_without_losing_a_paragraph():
    paragraphs = [f"Paragraph number {n} happens at the harbour." for n in range(1, 31)]
    story = outline(from_text("\n\n".join(paragraphs)))
    beats = [b for s in story.scenes for b in s.beats]
    assert beats == paragraphs


# Markdown and prose.

def test_setext_headings_are_headings():
    text = "The Glass Harbour\n=================\n\nIntro.\n\nOne\n---\n\nA.\n\nTwo\n---\n\nB.\n"
    idea = from_text(text)
    assert idea.kind is IdeaKind.MARKDOWN
    story = outline(idea)
    assert story.title == "The Glass Harbour"
    assert [s.beats for s in story.scenes] == [["A."], ["B."]]


def test_markdown_escapes_html_and_entities_never_reach_the_beats():
    text = ("# T\n\n## One\n\nRain &amp; wind.<br/>The <b>door</b> \\*slams\\*. "
            "A [link](http://x) and `code`.\n\n## Two\n\nEnd.\n")
    story = outline(from_text(text))
    assert story.scenes[0].beats == ["Rain & wind.", "The door slams.", "A link and code."]


def test_capitalised_words_and_acronyms_are_not_cast():
    text = ("OPEN on the harbour. POSE: the crew waits. WELL, nobody moves. The ship is SET "
            "to sail, HENCE the rush. The NASA probe falls.\n\nNadia runs to Karl. Karl "
            "waves to Nadia.\n\nThe end comes for Nadia.")
    assert set(find_names(text)) == {"NADIA", "KARL"}
    assert set(outline(from_text(text)).cast) == {"NADIA", "KARL"}


def test_a_list_before_the_first_heading_is_not_a_cast_list():
    story = outline(from_text("# T\n\n- Rain falls on the town.\n\n## One\n\nA dog barks.\n\n"
                              "## Two\n\nThe sun.\n"))
    assert "RAIN" not in story.cast


def test_a_characters_list_names_the_cast():
    story = outline(from_text("Characters: Vera, Anton\n\nThe train leaves at night. "
                              "Someone waits in the corridor. The lights go out."))
    assert {"VERA", "ANTON"} <= set(story.cast)
    assert all("Characters" not in b for s in story.scenes for b in s.beats)


# Looks: ages from ages only.

@pytest.mark.parametrize(("after", "age"), [
    (" (28) waits", 28), (" OSEI (50s) sips", 55), (", 28, a nurse", 28),
    (" is in her sixties.", 65), (" is in his late thirties.", 38), (", a 60-year-old", 60),
    ("'S BEDROOM - NIGHT (1973)", None), (" - NIGHT (1973)", None), (" #12#", None),
    (" (1973)", None), (", 1973, was", None), (" waits. Later she is in her sixties.", None),
])
def test_an_age_is_read_only_where_the_text_gives_an_age(after, age):
    assert stated_age(after) == age


def test_a_year_in_a_heading_is_never_an_age():
    look = draft_look("WILL", "INT. WILL'S BEDROOM - NIGHT (1973)\n\nWill sleeps.")
    assert "1973" not in look
    assert "a child of about 3," in draft_look("WILL", "INT. WILL - NIGHT (1973)\n\nWILL (3) naps.")


def test_an_age_in_words_shapes_the_look():
    assert "of about 65" in draft_look("MARA", "Mara, the keeper, is in her sixties.")
