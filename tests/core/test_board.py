"""Shaping a board shot by shot (app.core.board): places and numbers, staleness, checks."""

from __future__ import annotations

import re

import pytest

from app.core import board
from app.core.history import loaded_order
from app.core.history.memory import MemoryHistory
from app.core.models import RunOptions, Scene, ScenePlan, ShotStatus, ShotType
from app.core.revisions import EditError, edit_character
from tests.core.test_revisions import IDEA, pipeline_for

KEY_SAFE = re.compile(r"^[a-z0-9]+$")


@pytest.fixture
async def run():
    """A finished run of two scenes: 1A-1D (s01-01..s01-04) and 2A-2B (s02-01, s02-02),
    every shot drawn at 16:9; cast Mara and Theo."""
    finished = await pipeline_for(MemoryHistory()).start(IDEA, RunOptions(seed=11))
    assert all(s.status is ShotStatus.DONE and s.image for s in finished.shots)
    return finished


def board_of(run):
    return [(s.shot_id, s.number) for s in loaded_order(run.shots)]


def numbers_are_in_order(run):
    for scene in {s.scene for s in run.shots}:
        shots = [s for s in run.shots if s.scene == scene]
        assert sorted(s.index for s in shots) == list(range(1, len(shots) + 1))
        assert all(s.number == f"{scene}{'ABCDEFGH'[s.index - 1]}" for s in shots)


# Adding.


def test_a_shot_added_after_another_takes_the_next_number_and_later_ones_move_up(run):
    change = board.add_shot(run, after="s01-02", text="Mara lights the lamp for theo.",
                            framing="cu", camera="slow push in", dialogue="Hold on, Theo.")

    new = run.shot(change.shot_id)
    assert board_of(run) == [("s01-01", "1A"), ("s01-02", "1B"), (new.shot_id, "1C"),
                             ("s01-03", "1D"), ("s01-04", "1E"), ("s02-01", "2A"),
                             ("s02-02", "2B")]
    assert [s.shot_id for s in run.shots] == [s for s, _ in board_of(run)]  # board order
    # what to write: the new shot, and only the shots whose number changed
    assert [s.shot_id for s in change.saved] == [new.shot_id, "s01-03", "s01-04"]
    assert (new.shot_type, new.camera, new.dialogue) == (ShotType.CLOSE_UP, "slow push in",
                                                         "Hold on, Theo.")
    assert new.characters == ["Mara", "Theo"]  # the cast named in its description
    assert "close-up shot, camera slow push in" in new.prompt and "white braid" in new.prompt
    assert new.image is None and new.status is ShotStatus.QUEUED
    assert new.stale == board.NEW_SHOT and change.stale == [new.shot_id]
    assert run.shot_count == 7 and "run_id" not in change.run_fields


def test_a_shot_added_at_a_scene_start_is_its_first(run):
    change = board.add_shot(run, scene=2, text="The boat heels over.", characters=[])
    assert board_of(run)[4:] == [(change.shot_id, "2A"), ("s02-01", "2B"), ("s02-02", "2C")]
    assert run.shot(change.shot_id).characters == []
    assert run.shot(change.shot_id).shot_type is ShotType.MEDIUM  # the default framing


def test_new_ids_are_key_safe_unique_and_never_an_id_a_deleted_shot_had(run):
    first = board.add_shot(run, scene=1, text="A gull.").shot_id
    board.delete_shot(run, first)
    ids = {first}
    for _ in range(30):
        ids.add(board.add_shot(run, scene=1, text="A gull.").shot_id)
        ids.add(board.duplicate_shot(run, "s01-01").shot_id)
    assert len(ids) == 61 and all(KEY_SAFE.match(i) for i in ids)
    assert first not in {s.shot_id for s in run.shots}
    assert not ids & {f"s0{s}-0{i}" for s in (1, 2) for i in range(1, 10)}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"after": "nope", "text": "x"}, "has no shot 'nope'"),
    ({"scene": 9, "text": "x"}, "this run has no scene 9"),
    ({"text": "x"}, "say where"),
    ({"after": "s01-01", "scene": 1, "text": "x"}, "say where"),
    ({"scene": 1, "text": "   "}, "a shot's description can't be empty"),
    ({"scene": 1, "text": "x", "framing": "XXL"}, "unknown framing 'XXL'"),
    ({"scene": 1, "text": "x", "duration_s": 0}, "a duration must be 0.1 to 600 seconds"),
    ({"scene": 1, "text": "x", "duration_s": "long"}, "a duration is a number of seconds"),
    ({"scene": 1, "text": "x", "characters": ["Nobody"]}, "no character named 'Nobody'"),
    ({"scene": 1, "text": "x", "camera": " "}, "a camera move can't be empty"),
])
def test_a_bad_add_says_why_and_changes_nothing(run, kwargs, message):
    before = [s.model_dump() for s in run.shots], run.model_dump()
    with pytest.raises(EditError, match=re.escape(message)):
        board.add_shot(run, **kwargs)
    assert ([s.model_dump() for s in run.shots], run.model_dump()) == before


def test_a_scene_not_storyboarded_yet_takes_no_shot(run):
    extra = Scene(index=3, heading="INT. HUT - DAY")
    run.scenes = [*run.scenes, extra]
    run.held_plans = [ScenePlan(scene=extra, shots=[])]
    with pytest.raises(EditError, match=r"scene 3 is not storyboarded yet.*--scenes 3"):
        board.add_shot(run, scene=3, text="A hut.")
    with pytest.raises(EditError, match="scene 3 is not storyboarded yet"):
        board.move_shot(run, "s01-01", scene=3)


# Duplicating, deleting, restoring.


def test_a_duplicate_comes_right_after_with_its_own_id_and_seed_and_no_image(run):
    source = run.shot("s01-02")
    source.duration_s, source.note = 4.0, "hold on the face"
    change = board.duplicate_shot(run, "s01-02")
    copy = run.shot(change.shot_id)
    assert board_of(run)[:4] == [("s01-01", "1A"), ("s01-02", "1B"), (copy.shot_id, "1C"),
                                 ("s01-03", "1D")]
    assert (copy.description, copy.characters, copy.shot_type, copy.camera) == (
        source.description, source.characters, source.shot_type, source.camera)
    assert (copy.prompt, copy.duration_s, copy.note) == (source.prompt, 4.0, "hold on the face")
    assert copy.seed != source.seed and copy.image is None and copy.versions == []
    assert copy.stale == board.NEW_SHOT


def test_deleting_renumbers_its_scene_and_restoring_puts_it_back_with_its_images(run):
    gone = run.shot("s01-02")
    change = board.delete_shot(run, "s01-02")
    assert change.removed == ["s01-02"] and change.removed_shots[0] is gone
    assert board_of(run)[:3] == [("s01-01", "1A"), ("s01-03", "1B"), ("s01-04", "1C")]
    assert [s.shot_id for s in change.saved] == ["s01-03", "s01-04"]
    assert run.shot_count == 5 and run.shots_done == 5

    back = board.restore_shot(run, gone)
    assert board_of(run)[:4] == [("s01-01", "1A"), ("s01-02", "1B"), ("s01-03", "1C"),
                                 ("s01-04", "1D")]
    restored = run.shot("s01-02")
    assert (restored.image, restored.prompt, restored.seed) == (gone.image, gone.prompt,
                                                                gone.seed)
    assert restored.stale is None and back.stale == [] and run.shot_count == 6
    with pytest.raises(EditError, match="on the board already"):
        board.restore_shot(run, gone)


def test_a_shot_restored_into_another_scene_goes_stale(run):
    gone = board.delete_shot(run, "s01-02").removed_shots[0]
    change = board.restore_shot(run, gone, after="s02-02")
    assert board_of(run)[-1] == ("s01-02", "2C")
    assert change.stale == ["s01-02"]
    assert run.shot("s01-02").stale == "moved from scene 1 to scene 2"


# Moving.


def test_moving_within_a_scene_renumbers_and_leaves_the_picture_current(run):
    change = board.move_shot(run, "s01-04", after="s01-01")
    assert board_of(run)[:4] == [("s01-01", "1A"), ("s01-04", "1B"), ("s01-02", "1C"),
                                 ("s01-03", "1D")]
    assert change.stale == [] and run.shot("s01-04").stale is None
    assert {s.shot_id for s in change.saved} == {"s01-04", "s01-02", "s01-03"}
    board.move_shot(run, "s01-04", scene=1)
    assert board_of(run)[0] == ("s01-04", "1A")


def test_moving_to_another_scene_makes_it_stale_and_moving_back_makes_it_current(run):
    shot = run.shot("s01-01")
    drawn = shot.prompt
    change = board.move_shot(run, "s01-01", after="s02-01")
    assert board_of(run) == [("s01-02", "1A"), ("s01-03", "1B"), ("s01-04", "1C"),
                             ("s02-01", "2A"), ("s01-01", "2B"), ("s02-02", "2C")]
    assert change.stale == ["s01-01"]
    assert shot.stale == "moved from scene 1 to scene 2"
    assert "rock 2" in shot.next_prompt and "Storm 2 rages" in shot.next_prompt
    assert shot.prompt == drawn  # the current image's prompt stays until it is redrawn

    board.move_shot(run, "s01-01", scene=1)
    assert board_of(run)[0] == ("s01-01", "1A")
    assert shot.stale is None and shot.next_prompt is None


def test_a_shot_cannot_go_after_itself_nor_nowhere(run):
    with pytest.raises(EditError, match="can't go after itself"):
        board.move_shot(run, "s01-01", after="s01-01")
    with pytest.raises(EditError, match="has no shot 'x'"):
        board.move_shot(run, "x", scene=1)


# Changing a shot.


def test_changing_what_the_picture_shows_makes_it_stale_and_undoing_makes_it_current(run):
    shot = run.shot("s01-02")
    drawn = shot.prompt
    change = board.set_shot(run, "s01-02", description="Theo runs for the stairs",
                            framing="close-up")
    assert change.stale == ["s01-02"] and change.saved == [shot]
    assert shot.stale == "its description and framing changed"
    assert shot.next_prompt.startswith("close-up shot") and "Theo runs for the stairs" in \
        shot.next_prompt
    assert shot.prompt == drawn

    board.set_shot(run, "s01-02", description="shot 1.2", framing="WS")
    assert shot.stale is None and shot.next_prompt is None and shot.prompt == drawn


def test_dialogue_duration_and_note_leave_the_picture_current(run):
    change = board.set_shot(run, "s01-02", dialogue="Where is she?", duration_s=3.5,
                            note="beat before the line")
    shot = run.shot("s01-02")
    assert change.stale == [] and shot.stale is None
    assert (shot.dialogue, shot.duration_s, shot.note) == ("Where is she?", 3.5,
                                                           "beat before the line")
    board.set_shot(run, "s01-02", duration_s=board.FROM_DIALOGUE)
    assert shot.duration_s is None


def test_the_cast_of_a_shot_changes_its_looks_in_the_prompt(run):
    board.set_shot(run, "s01-04", characters=["mara"])
    shot = run.shot("s01-04")
    assert shot.characters == ["Mara"] and "white braid" in shot.next_prompt
    assert shot.stale == "its cast changed"


def test_a_prompt_edited_by_hand_keeps_its_words_when_the_description_changes(run):
    shot = run.shot("s01-04")
    shot.prompt = shot.prompt.replace("storyboard pencil sketch", "charcoal, heavy shadows")
    board.set_shot(run, "s01-04", description="the lamp goes out")
    assert "charcoal, heavy shadows" in shot.next_prompt
    assert "the lamp goes out" in shot.next_prompt and "shot 1.4" not in shot.next_prompt


def test_an_edit_on_a_shot_stale_for_a_look_keeps_it_stale_when_undone(run):
    edit_character(run, "Theo", "A boy in a blue parka.")
    shot = run.shot("s01-02")
    assert shot.stale and "blue parka" in shot.next_prompt
    board.set_shot(run, "s01-02", description="Theo waits")
    board.set_shot(run, "s01-02", description="shot 1.2")
    assert shot.stale and "blue parka" in shot.next_prompt  # the look change still stands


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "nothing to change"),
    ({"description": ""}, "a shot's description can't be empty"),
    ({"framing": "huge"}, "unknown framing 'huge'"),
    ({"duration_s": 601}, "a duration must be 0.1 to 600 seconds"),
    ({"characters": ["Mara", "Ghost"]}, "no character named 'Ghost'"),
    ({"note": "x" * 2001}, "a note is at most 2000 characters"),
])
def test_a_bad_change_says_why_and_changes_nothing(run, kwargs, message):
    before = [s.model_dump() for s in run.shots]
    with pytest.raises(EditError, match=re.escape(message)):
        board.set_shot(run, "s01-02", **kwargs)
    assert [s.model_dump() for s in run.shots] == before


def test_a_change_to_an_undrawn_shot_changes_its_prompt_directly(run):
    new = run.shot(board.add_shot(run, scene=1, text="A gull.").shot_id)
    board.set_shot(run, new.shot_id, description="Two gulls.", framing="EWS")
    assert new.prompt.startswith("extreme wide shot") and "Two gulls" in new.prompt
    assert new.next_prompt is None and new.stale == board.NEW_SHOT


# The frame.


def test_a_new_frame_makes_every_drawn_shot_stale_and_the_old_one_makes_them_current(run):
    new_id = board.add_shot(run, scene=1, text="A gull.").shot_id
    change = board.set_aspect(run, "2.39", (1024, 428))
    drawn = [s.shot_id for s in run.shots if s.image]
    assert (run.aspect, run.width, run.height) == ("2.39:1", 1024, 428)
    assert change.stale == drawn and change.run_fields == ("aspect", "width", "height")
    assert {run.shot(i).stale for i in drawn} == {"the frame changed to 2.39:1"}
    assert run.shot(new_id).stale == board.NEW_SHOT

    board.set_aspect(run, "16:9", (1024, 576))
    assert all(run.shot(i).stale is None for i in drawn)
    assert run.shot(new_id).stale == board.NEW_SHOT


def test_an_unknown_frame_is_refused(run):
    with pytest.raises(EditError, match="aspect ratio '3:2' is not one of"):
        board.set_aspect(run, "3:2", (1024, 683))
    assert run.aspect == "16:9"


def test_framing_takes_codes_and_names():
    assert board.parse_framing("ots") is ShotType.OVER_THE_SHOULDER
    assert board.parse_framing("Extreme Close-up") is ShotType.EXTREME_CLOSE_UP
    assert board.parse_framing("two shot") is ShotType.TWO_SHOT


# Loading a board a killed process left half renumbered.


def test_loading_orders_ties_by_id_and_numbers_a_tied_scene_by_place(run):
    shots = [s.model_copy() for s in run.shots]
    by_id = {s.shot_id: s for s in shots}
    by_id["s01-04"].index = 2  # written; s01-02 (also 2) not yet moved up
    by_id["s02-01"].index, by_id["s02-01"].number = 5, "2E"  # a gap: left as it is
    ordered = loaded_order(shots)
    assert [(s.shot_id, s.index, s.number) for s in ordered] == [
        ("s01-01", 1, "1A"), ("s01-02", 2, "1B"), ("s01-04", 2, "1C"), ("s01-03", 3, "1D"),
        ("s02-02", 2, "2B"), ("s02-01", 5, "2E")]


def test_the_next_renumbering_edit_writes_a_tied_scene_out_whole(run):
    """Stored Y1 Z2 B2 C3 (ids sort b, c, y, z): loaded Y B Z C. Moving Y after Z must
    write every shot whose stored index is not its place, C included, or the board as
    stored would read Y and C tied at 3, C first."""
    shots = {s.shot_id: s for s in run.shots if s.scene == 1}
    for shot_id, index in (("s01-01", 1), ("s01-04", 2), ("s01-02", 2), ("s01-03", 3)):
        shots[shot_id].index = index  # y=s01-01, z=s01-04, b=s01-02, c=s01-03
    run.shots = loaded_order(run.shots)
    change = board.move_shot(run, "s01-01", after="s01-04")
    stored = {s.shot_id: s.index for s in run.shots}
    assert {s.shot_id for s in change.saved} == {"s01-01", "s01-02", "s01-04", "s01-03"}
    assert [sid for sid, _ in sorted(((k, v) for k, v in stored.items() if k < "s02"),
                                     key=lambda kv: (kv[1], kv[0]))] == [
        "s01-02", "s01-04", "s01-01", "s01-03"]


def test_a_full_scene_takes_no_more_shots_and_a_refused_move_changes_nothing(run, monkeypatch):
    monkeypatch.setattr(board, "MAX_SHOTS_PER_SCENE", 4)
    before = [s.model_dump() for s in run.shots]
    with pytest.raises(EditError, match="scene 1 has 4 shots, the most a scene can have"):
        board.move_shot(run, "s02-01", after="s01-01")
    with pytest.raises(EditError, match="scene 1 has 4 shots"):
        board.add_shot(run, scene=1, text="A gull.")
    assert [s.model_dump() for s in run.shots] == before
    board.move_shot(run, "s01-01", after="s01-04")  # within the scene: still four
    assert board_of(run)[3] == ("s01-01", "1D")
