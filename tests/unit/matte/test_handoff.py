from __future__ import annotations

import numpy as np

from agents.composite import composite
from agents.matte.handoff import foreground, partial_colours, partial_pixels
from tests.unit.matte.known_alpha import KnownClip


def test_partial_pixels_are_those_strictly_between_0_and_255() -> None:
    alpha = np.array([[[0, 1, 128], [254, 255, 7]]], np.uint8)
    assert partial_pixels(alpha).tolist() == [1, 2, 3, 5]
    assert partial_pixels(np.zeros((1, 2, 3), np.uint8)).tolist() == []


def test_the_stored_colours_composite_exactly_like_refines_foreground(
    clip: KnownClip, refined: tuple[np.ndarray, np.ndarray]
) -> None:
    frames = clip.frames
    alpha, fg = refined
    assert ((alpha > 0) & (alpha < 255)).any()
    background = np.random.default_rng(1).integers(0, 256, frames.shape, np.uint8)
    rebuilt = foreground(frames, alpha, partial_colours(alpha, fg))
    assert np.array_equal(composite(rebuilt, alpha, background), composite(fg, alpha, background))
