"""The estimate follows the frame's pixel count: the aspect asked for, and what past runs drew."""

from __future__ import annotations

import pytest

from app.core.estimate import DEFAULT_SHOT_GPU_S, DEFAULT_SHOT_PIXELS, estimate_from
from tests.core.test_estimate import GPU, past


def test_the_stated_default_is_per_pixel_of_its_frame():
    assert estimate_from([], **GPU).shot_gpu_s == DEFAULT_SHOT_GPU_S  # no size: as before
    assert estimate_from([], **GPU, pixels=1360 * 768).shot_gpu_s == DEFAULT_SHOT_GPU_S
    half = estimate_from([], **GPU, pixels=DEFAULT_SHOT_PIXELS // 2)
    assert half.shot_gpu_s == pytest.approx(DEFAULT_SHOT_GPU_S / 2, abs=0.01)


def test_past_runs_count_for_the_pixels_they_drew():
    small = past(1, shots=10, done=10, gpu=20)  # 2 s a shot at 1024 x 576 ...
    small.width, small.height = 1024, 576
    large = past(2, shots=10, done=10, gpu=80)  # ... and 8 s a shot at 2048 x 1152
    large.width, large.height = 2048, 1152
    est = estimate_from([small, large], **GPU, pixels=1024 * 576)
    # 100 GPU s over 10 * 0.59 MP + 10 * 2.36 MP: 3.39 s a megapixel
    assert est.shot_gpu_s == pytest.approx(100 / (10 * 1024 * 576 + 10 * 2048 * 1152)
                                           * 1024 * 576, abs=0.01)
    assert estimate_from([small, large], **GPU).shot_gpu_s == 5.0  # no size: the plain mean
