"""The refined alpha is closer to the truth than the bilinear-upsampled probability."""

from __future__ import annotations

import numpy as np

from agents.matte.metrics import gradient_error, mad
from tests.unit.matte.known_alpha import KnownClip


def test_refined_beats_bilinear_on_mad(
    clip: KnownClip, bilinear: np.ndarray, refined: tuple[np.ndarray, np.ndarray]
) -> None:
    raw, ours = mad(bilinear, clip.alpha), mad(refined[0], clip.alpha)
    assert ours < 0.8 * raw, (ours, raw)


def test_refined_beats_bilinear_on_gradient_error(
    clip: KnownClip, bilinear: np.ndarray, refined: tuple[np.ndarray, np.ndarray]
) -> None:
    raw, ours = gradient_error(bilinear, clip.alpha), gradient_error(refined[0], clip.alpha)
    assert ours < 0.8 * raw, (ours, raw)
