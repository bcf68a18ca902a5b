"""Final Draft ``.fdx`` import: the script's parts, the title page, and XML read safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core import ideas, screenplay
from app.core.errors import IdeaError
from app.core.ideas import IdeaKind
from app.core.writers.outline import outline

SCRIPTS = Path(__file__).parents[1] / "data" / "scripts"


def test_a_final_draft_script_reads_with_its_scenes_cast_dialogue_and_title_page():
    [idea] = ideas.read(SCRIPTS / "storyreel" / "night-ferry.fdx")
    assert idea.kind is IdeaKind.FOUNTAIN
    assert idea.source == "night-ferry.fdx"
    play = screenplay.parse(idea.text)
    assert [(s.heading, s.number) for s in play.scenes] == [
        ("EXT. FERRY DECK - NIGHT", "1"), ("ENGINE ROOM", "2A")]
    deck, engine = play.scenes
    assert deck.action == [
        "Fog rolls over the rail. IRIS KANE (40s), a ship's engineer, lights a cigarette.",
        "BANG!"]
    [iris] = deck.speeches
    assert (iris.character, iris.parentheticals, iris.lines) == (
        "IRIS", ["(to herself)"], ["That was not the engine."])
    assert deck.transitions == ["CUT TO:"]
    assert [(s.character, s.extensions, s.dual) for s in engine.speeches] == [
        ("Old Tom", ["O.S."], False), ("IRIS", [], True), ("TOM", [], True)]
    assert engine.transitions == ["FADE OUT."]
    assert play.title == "The Night Ferry"
    assert play.title_page["Author"] == ["Storyreel tests"]
    assert play.title_page["Notes"] == ["Draft 2, December 2026"]
    story = outline(idea)
    assert story.title == "The Night Ferry"
    assert set(story.cast) == {"IRIS", "OLD TOM", "TOM"}


def fdx(tmp_path, body: str, name: str = "script.fdx") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE FinalDraft [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&lol9;</Text></Paragraph></Content>
</FinalDraft>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE FinalDraft [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&secret;</Text></Paragraph></Content>
</FinalDraft>
"""


@pytest.mark.parametrize(("body", "reason"), [
    (BILLION_LAUGHS, "was refused: it declares XML entities"),
    (EXTERNAL_ENTITY, "was refused: it declares XML entities"),
    ("INT. HOUSE - DAY\n\nNot XML at all.\n", "is not a Final Draft file: not valid XML"),
    ("<?xml version='1.0'?><html><body>Hi</body></html>",
     "is not a Final Draft file: its XML root is <html>, not <FinalDraft>"),
    ("<FinalDraft><TitlePage/></FinalDraft>", "without a <Content> element"),
    ("<FinalDraft><Content><Paragraph Type='Action'><Text> </Text></Paragraph></Content>"
     "</FinalDraft>", "no script in it"),
], ids=["billion-laughs", "external-entity", "not-xml", "other-xml", "no-content", "empty"])
def test_a_file_that_is_not_a_safe_final_draft_script_is_refused_in_one_line(
        tmp_path, body, reason):
    path = fdx(tmp_path, body)
    with pytest.raises(IdeaError) as info:
        ideas.read(path)
    message = str(info.value)
    assert message.startswith("script.fdx ")
    assert reason in message
    assert "\n" not in message
    assert "root:" not in message  # nothing of /etc/passwd


def test_a_final_draft_file_is_offered_beside_the_other_kinds():
    assert ".fdx" in ideas.SUFFIXES
