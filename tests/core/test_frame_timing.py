"""Aspect ratios, the sizes that follow from them, and shot durations."""

from __future__ import annotations

import re

import pytest

from app.core.frame import (
    ASPECTS,
    AspectError,
    aspect_of,
    draft_size,
    frame_size,
    parse_aspect,
    ratio,
)
from app.core.models import Shot, ShotType
from app.core.revisions import EditError
from app.core.timing import (
    SILENT_S,
    board_duration,
    check_duration,
    default_duration,
    format_duration,
    shot_duration,
)
from app.worker.limits import limits_for


@pytest.mark.parametrize("aspect", list(ASPECTS))
def test_gpu_sizes_are_multiples_of_16_near_a_megapixel_and_inside_every_worker(aspect):
    w, h = frame_size(aspect)
    assert w % 16 == 0 and h % 16 == 0 and 256 <= min(w, h) and max(w, h) <= 2048
    assert 0.95 * 1024 * 1024 <= w * h <= 1024 * 1024
    assert abs(w / h - ratio(aspect)) / ratio(aspect) <= 0.01
    smallest = limits_for(16, offloaded=True)  # the tightest worker we run
    assert smallest.check(w, h, 4) is None


@pytest.mark.parametrize("aspect", list(ASPECTS))
def test_draft_panels_keep_the_ratio_with_a_1024_long_side(aspect):
    w, h = draft_size(aspect)
    assert max(w, h) == 1024 and w % 2 == 0 and h % 2 == 0
    assert abs(w / h - ratio(aspect)) / ratio(aspect) < 0.01
    assert aspect_of(w, h) == aspect


def test_the_default_draft_size_is_unchanged():
    assert draft_size("16:9") == (1024, 576)
    assert frame_size("2.39:1") == (1568, 656) and frame_size("9:16") == (768, 1360)


@pytest.mark.parametrize("text,label", [("2.39:1", "2.39:1"), ("2.39", "2.39:1"),
                                        (" 16:9 ", "16:9"), ("16x9", "16:9"), ("9/16", "9:16"),
                                        ("1.85", "1.85:1"), ("1:1", "1:1")])
def test_aspects_are_read_in_the_ways_people_write_them(text, label):
    assert parse_aspect(text) == label


@pytest.mark.parametrize("text", ["", "3:2", "16:10", "wide", "2.4:1", "0"])
def test_an_unknown_aspect_names_the_choices(text):
    choices = "is not one of: 2.39:1, 1.85:1, 16:9, 4:3, 1:1, 9:16"
    with pytest.raises(AspectError, match=re.escape(choices)):
        parse_aspect(text)


def shot(dialogue: str = "", duration: float | None = None) -> Shot:
    return Shot(run_id="r", shot_id="s01-01", scene=1, index=1, number="1A",
                shot_type=ShotType.WIDE, description="x", dialogue=dialogue,
                duration_s=duration)


def test_a_silent_shot_holds_for_the_floor_and_dialogue_for_its_words():
    assert shot_duration(shot()) == SILENT_S
    assert shot_duration(shot("Go.")) == SILENT_S  # a short line never goes under the floor
    line = " ".join(["word"] * 25)  # 25 words at 2.5 a second, and half a second of air
    assert shot_duration(shot(line)) == 10.5
    assert default_duration(line + " more") > default_duration(line)


def test_the_artists_duration_wins_and_the_board_sums_them():
    assert shot_duration(shot(" ".join(["word"] * 25), duration=1.5)) == 1.5
    assert board_duration([shot(), shot(duration=3.25), shot(" ".join(["w"] * 25))]) == 15.75


@pytest.mark.parametrize("bad", [0, -1, 601, float("nan"), float("inf"), "soon", None])
def test_a_bad_duration_is_refused_with_its_range(bad):
    with pytest.raises(EditError, match="seconds"):
        check_duration(bad)


def test_durations_read_as_a_person_writes_them():
    assert check_duration("2.5") == 2.5
    assert [format_duration(s) for s in (4.5, 65, 3725)] == ["4.5 s", "1:05", "1:02:05"]
