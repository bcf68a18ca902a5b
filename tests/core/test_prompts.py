"""Shot prompts: one pure function of the shot, its scene, the cast in it and the style."""

from __future__ import annotations

from app.core.models import Character, Scene, ShotPlan, ShotType
from app.core.prompts import SCENE_WORDS, build_shot_prompt, location

MARA = Character(name="Mara", description="A woman of seventy, wiry, in a yellow oilskin.")
THEO = Character(name="Theo", description="A boy of sixteen, tall, in a grey hoodie.")
CAST = [MARA, THEO]
SCENE = Scene(index=2, heading="INT. LAMP ROOM - NIGHT", summary="The lens is cracked.")
STYLE = "storyboard pencil sketch, grey wash"


def plan(*characters: str, **fields) -> ShotPlan:
    return ShotPlan(shot_type=fields.pop("shot_type", ShotType.CLOSE_UP),
                    camera=fields.pop("camera", "push in"),
                    description=fields.pop("description", "Mara grips the cracked lens."),
                    characters=list(characters), **fields)


def test_a_prompt_holds_the_shot_the_place_the_cast_present_the_scene_and_the_style():
    prompt = build_shot_prompt(plan("MARA"), SCENE, CAST, STYLE)

    assert prompt == ("close-up shot, camera push in. interior, lamp room, night. "
                      "Mara grips the cracked lens. "
                      "Mara: A woman of seventy, wiry, in a yellow oilskin. "
                      "Scene: The lens is cracked. storyboard pencil sketch, grey wash.")


def test_only_the_cast_members_in_the_shot_are_described_matched_by_name_in_any_case():
    prompt = build_shot_prompt(plan("theo"), SCENE, CAST, STYLE)
    assert "Theo: A boy of sixteen" in prompt
    assert "Mara:" not in prompt and "yellow oilskin" not in prompt


def test_a_name_not_in_the_cast_or_a_cast_member_without_a_look_adds_nothing():
    faceless = [Character(name="Mara", description="   ")]
    assert build_shot_prompt(plan("Mara", "Nobody"), SCENE, faceless, STYLE) == \
        build_shot_prompt(plan(), SCENE, faceless, STYLE)


def test_the_style_line_is_the_prompts_last_part():
    assert build_shot_prompt(plan(), SCENE, CAST, "comic ink, bold lines").endswith(
        "comic ink, bold lines.")


def test_the_scene_summary_is_capped_and_its_whitespace_folded():
    long = Scene(index=1, heading="EXT. SEA - DAY", summary=" ".join(["wave"] * 200))
    prompt = build_shot_prompt(plan(), long, CAST, STYLE)
    assert prompt.count("wave") == SCENE_WORDS
    assert "  " not in build_shot_prompt(
        plan(description="Mara\n  turns."), Scene(index=1, heading="EXT. SEA - DAY",
                                                  summary="Rain\n\nfalls."), CAST, STYLE)


def test_no_doubled_stops_where_parts_end_with_their_own():
    prompt = build_shot_prompt(plan("Mara", description="She waits..."), SCENE, CAST, "ink.")
    assert ".." not in prompt


def test_the_same_inputs_give_the_same_prompt():
    assert build_shot_prompt(plan("Mara"), SCENE, CAST, STYLE) == \
        build_shot_prompt(plan("Mara"), SCENE, list(CAST), STYLE)


def test_headings_become_places():
    assert location("EXT. OLD LIGHTHOUSE - NIGHT") == "exterior, old lighthouse, night"
    assert location("INT./EXT. CAR - DAY") == "interior and exterior, car, day"
    assert location("I/E CAR") == "interior and exterior, car"
    assert location("A FIELD") == "a field"
