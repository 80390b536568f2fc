from __future__ import annotations

import numpy as np
import pytest

from agents.score import HeroPicker
from base.errors import InternalError


def test_best_frame_of_each_stretch_in_clip_order() -> None:
    picker = HeroPicker(total_frames=10, count=2)
    qualities = [1, 5, 2, 0, 1, 3, 9, 2, 2, 1]
    for i, q in enumerate(qualities):
        picker.offer(i, q, np.full((2, 2, 3), i, np.uint8))
    heroes = picker.heroes()
    assert [index for index, _ in heroes] == [1, 6]
    assert [int(image[0, 0, 0]) for _, image in heroes] == [1, 6]


def test_keeps_a_copy_not_a_view() -> None:
    picker = HeroPicker(total_frames=1, count=3)
    frame = np.zeros((2, 2, 3), np.uint8)
    picker.offer(0, 1.0, frame)
    frame[:] = 255
    assert picker.heroes()[0][1].max() == 0
    assert len(picker.slots) == 1  # never more slots than frames


def test_rejects_empty_clips() -> None:
    with pytest.raises(InternalError, match="at least 1"):
        HeroPicker(total_frames=0)
