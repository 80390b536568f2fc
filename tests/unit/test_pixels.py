"""The shared downscale: halving first stays OpenCV's area average, exactly so at power-of-two ratios."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agents.pixels import shrink


@pytest.mark.parametrize(
    ("size", "target"), [((720, 1280), (320, 180)), ((1080, 1920), (320, 180)), ((37, 53), (20, 11))]
)
def test_shrink_is_an_area_average(size: tuple[int, int], target: tuple[int, int]) -> None:
    frame = np.random.default_rng(5).integers(0, 256, (*size, 3), dtype=np.uint8)
    frame = cv2.GaussianBlur(frame, (0, 0), 3)  # pictures are smooth at the scale of a few pixels
    small = shrink(frame, target)
    assert small.shape == (target[1], target[0], 3)
    difference = np.abs(small.astype(int) - cv2.resize(frame, target, interpolation=cv2.INTER_AREA))
    whole_halvings = size[1] / target[0] in (2, 4, 8)
    # 1920 → 320 halves twice, then takes 480 → 320 by area: pixel weights differ from one 6:1 step
    assert difference.max() <= (1 if whole_halvings else 6)
    assert difference.mean() < 1.0


def test_shrink_leaves_a_frame_of_the_target_size_alone() -> None:
    frame = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    np.testing.assert_array_equal(shrink(frame, (6, 4)), frame)
