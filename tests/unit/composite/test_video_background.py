from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from agents.composite import open_background
from schemas.background import Video
from tests import clips


def _indices_seen(path: Path, clip_fps: Fraction, frames: list[int]) -> list[int]:
    background = open_background(Video(ref=str(path)), 80, 60, clip_fps)
    try:
        pixels = background.frames(np.array(frames), np.zeros((len(frames), 60, 80, 3), np.uint8))
        assert pixels is not None
        assert pixels.shape == (len(frames), 60, 80, 3)
        return [clips.frame_index(frame) for frame in pixels]
    finally:
        background.close()


def test_a_shorter_background_video_loops(tmp_path: Path) -> None:
    path = clips.make_clip(tmp_path / "bg.mp4", frames=10, fps=Fraction(25)).path
    assert _indices_seen(path, Fraction(25), list(range(24))) == [i % 10 for i in range(24)]


def test_background_frames_follow_time_not_frame_numbers(tmp_path: Path) -> None:
    path = clips.make_clip(tmp_path / "bg.mp4", frames=10, fps=Fraction(25)).path
    # a 50 fps clip shows each 25 fps background frame twice
    assert _indices_seen(path, Fraction(50), list(range(8))) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_asking_again_from_an_earlier_time_seeks_back(tmp_path: Path) -> None:
    path = clips.make_clip(tmp_path / "bg.mp4", frames=10, fps=Fraction(25)).path
    assert _indices_seen(path, Fraction(25), [7, 8, 2, 3]) == [7, 8, 2, 3]
