"""`storyreel run --aspect`: the frame of a run from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.test_cli import json_lines, storyreel

IDEA = "A keeper of a lighthouse finds the lamp dark and climbs to light it before the storm."
CLOUD = {"RUNPOD_API_KEY": "rp-secret-key", "RUNPOD_SHOT_ENDPOINT": "shots1",
         "STORYREEL_PRICE_PER_GPU_SECOND": "0.001", "R2_ENDPOINT_URL": "http://127.0.0.1:9",
         "R2_ACCESS_KEY_ID": "id", "R2_SECRET_ACCESS_KEY": "r2-secret", "R2_BUCKET": "shots"}


def test_run_aspect_draws_every_panel_in_that_frame_and_says_so(home):
    result = storyreel("run", "--text", IDEA, "--aspect", "9:16", "--max-shots", "2", "--json")
    assert result.returncode == 0, result.stderr
    [run] = json_lines(result.stdout)
    assert (run["aspect"], run["width"], run["height"]) == ("9:16", 576, 1024)
    for shot in run["shots"]:
        with Image.open(Path(shot["image_path"])) as image:
            assert image.size == (576, 1024)
    [shown] = json_lines(storyreel("show", run["run_id"], "--json").stdout)
    assert shown["aspect"] == "9:16"


@pytest.mark.parametrize("value", ["3:2", "wide", "0"])
def test_an_aspect_we_do_not_draw_exits_2_with_the_choices_and_starts_nothing(home, value):
    result = storyreel("run", "--text", IDEA, "--aspect", value)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"storyreel: --aspect: aspect ratio {value!r} is not one "
                                     "of: 2.39:1, 1.85:1, 16:9, 4:3, 1:1, 9:16")
    assert storyreel("history", "--json").stdout.strip() == ""


def test_the_estimate_is_for_the_frame_asked_for(home):
    def estimate(*args: str) -> dict:
        result = storyreel("run", "--text", IDEA, "--estimate", "--json", "--max-shots", "4",
                           *args, env=CLOUD)
        assert result.returncode == 0, result.stderr
        [est] = json_lines(result.stdout)
        return est

    wide, square = estimate("--aspect", "2.39"), estimate("--aspect", "1:1")
    assert (wide["aspect"], wide["width"], wide["height"]) == ("2.39:1", 1568, 656)
    assert (square["aspect"], square["width"], square["height"]) == ("1:1", 1024, 1024)
    # a shot's GPU seconds follow its pixels (the stated default is for 1360 x 768)
    assert wide["shot_gpu_seconds"] == pytest.approx(4.0 * 1568 * 656 / (1360 * 768), abs=0.01)
    assert square["shot_gpu_seconds"] == pytest.approx(4.0 * 1024 * 1024 / (1360 * 768),
                                                       abs=0.01)
    assert estimate()["aspect"] == "16:9"


def test_the_estimate_in_words_names_the_frame(home):
    result = storyreel("run", "--text", IDEA, "--estimate", "--aspect", "9:16", env=CLOUD)
    assert result.returncode == 0, result.stderr
    assert "frame: 9:16, 768 x 1360" in result.stdout.splitlines()
