"""The quality metrics on alphas with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agents.matte.metrics import dtssd, dtssd_per_frame, flicker, gradient_error, mad
from base.errors import InternalError


def _disc(shape: tuple[int, int] = (64, 64), blur: float = 1.0) -> np.ndarray:
    alpha = np.zeros(shape, np.float32)
    cv2.circle(alpha, (32, 32), 18, 1.0, -1)
    return cv2.GaussianBlur(alpha, (0, 0), blur)


def test_mad_is_the_mean_absolute_difference() -> None:
    gt = np.zeros((2, 4, 4), np.float32)
    alpha = gt.copy()
    alpha[0, 0, :2] = 0.5  # 2 of 32 pixels off by 0.5
    assert mad(alpha, gt) == pytest.approx(1 / 32)


def test_uint8_alphas_read_as_fractions() -> None:
    gt = np.full((4, 4), 0.5, np.float32)
    assert mad(np.full((4, 4), 255, np.uint8), gt) == pytest.approx(0.5)


def test_gradient_error_is_zero_for_the_truth_and_grows_with_blur() -> None:
    gt = _disc()
    assert gradient_error(gt, gt) == 0.0
    slightly, very = gradient_error(_disc(blur=2.0), gt), gradient_error(_disc(blur=4.0), gt)
    assert 0.0 < slightly < very


def test_gradient_error_ignores_a_constant_offset() -> None:
    gt = _disc()
    # Gaussian-derivative filters do not respond to a constant
    assert gradient_error(gt + 0.1, gt) == pytest.approx(0.0, abs=1e-9)


def test_dtssd_is_zero_when_the_error_does_not_change() -> None:
    gts = np.stack([_disc()] * 5)
    assert dtssd(gts + 0.05, gts) == pytest.approx(0.0, abs=1e-7)


def test_dtssd_of_alternating_noise() -> None:
    gts = np.stack([_disc()] * 5)
    signs = np.array([1, -1, 1, -1, 1], np.float32)[:, None, None]
    alphas = gts + 0.1 * signs  # each step changes by ±0.2 everywhere, the truth by nothing
    np.testing.assert_allclose(dtssd_per_frame(alphas, gts), 0.2, rtol=1e-5)
    assert flicker(alphas) == pytest.approx(0.2, rel=1e-5)


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(InternalError, match="same shape"):
        mad(np.zeros((4, 4)), np.zeros((4, 5)))
