"""Shapes, dtypes and the errors callers see."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agents.matte import MatteParams, guided, kernels, refine
from base.errors import InputEmpty, InternalError


def _inputs(count: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8)
    probs = np.zeros((count, 32, 48), np.float32)
    probs[:, 8:24, 12:36] = 1.0
    return frames, probs


@pytest.mark.parametrize(("height", "width"), [(90, 160), (37, 53), (7, 5), (400, 300)])
def test_shapes_and_dtypes(height: int, width: int) -> None:
    frames, probs = _inputs(3, height, width)
    alpha, fg, state = refine(frames, probs, None)
    assert (alpha.shape, alpha.dtype) == ((3, height, width), np.uint8)
    assert (fg.shape, fg.dtype) == ((3, height, width, 3), np.uint8)
    assert (state.prob.dtype, state.grey.dtype) == (np.float32, np.uint8)


def test_foreground_is_the_frame_where_alpha_is_solid() -> None:
    frames, probs = _inputs(2, 90, 160)
    alpha, fg, _ = refine(frames, probs, None)
    solid = alpha == 255
    assert solid.any()
    np.testing.assert_array_equal(fg[solid], frames[solid])


def test_tiles_match_a_whole_frame_evaluation() -> None:
    # the skipped tiles and the compiled interpolation must give what evaluating every pixel would, with
    # the coefficients upsampled by OpenCV; the ragged edges (180 and 250 are no multiples of 16) included
    frames, probs = _inputs(1, 180, 250)
    params = MatteParams(work_long_side=125, still_weight=1.0)
    alpha, _, state = refine(frames, probs, None, params=params)
    small = cv2.resize(frames[0], (125, 90), interpolation=cv2.INTER_AREA)
    coef = guided.fit(small, state.prob, params.radius, params.eps)
    full = cv2.resize(coef, (250, 180), interpolation=cv2.INTER_LINEAR)
    low, high = params.alpha_range
    expected = kernels.alpha_of(full, frames[0], np.float32(low), np.float32(255 / (high - low)))
    assert np.abs(alpha[0].astype(int) - expected).max() <= 1
    assert np.count_nonzero((expected > 0) & (expected < 255)) > 0


def test_guided_fit_follows_a_colour_edge() -> None:
    # a probability that ends where the colour changes stays sharp through the filter
    guide = np.zeros((40, 40, 3), np.uint8)
    guide[:, 20:] = 200
    prob = np.zeros((40, 40), np.float32)
    prob[:, 20:] = 1.0
    coef = guided.fit(guide, prob, 2, 1e-3)
    assert coef.shape == (40, 40, 4)
    alpha = kernels.alpha_of(coef, guide, np.float32(0.0), np.float32(255.0))
    assert alpha[:, :20].max() <= 3
    assert alpha[:, 20:].min() >= 252


def test_saturation_marks_only_certain_coefficients() -> None:
    coef = np.zeros((1, 3, 4), np.float32)
    coef[0, 0] = (0.0, 0.0, 0.0, 0.01)  # alpha 0.01 for any colour: certain background
    coef[0, 1] = (0.0, 0.0, 0.0, 0.99)  # certain foreground
    coef[0, 2] = (0.5, 0.0, 0.0, 0.3)  # 0.3..0.8 by red: neither
    lows, highs = guided.saturation(coef, np.float32(0.02), np.float32(0.98))
    assert lows.tolist() == [[True, False, False]]
    assert highs.tolist() == [[False, True, False]]


def test_mismatched_frame_counts_are_refused() -> None:
    frames, probs = _inputs(3, 40, 60)
    with pytest.raises(InternalError, match="3 frames but 2 probability maps"):
        refine(frames, probs[:2], None)


def test_mismatched_cuts_are_refused() -> None:
    frames, probs = _inputs(3, 40, 60)
    with pytest.raises(InternalError, match="cuts"):
        refine(frames, probs, None, np.zeros(2, bool))


def test_state_from_another_size_is_refused() -> None:
    frames, probs = _inputs(1, 40, 60)
    _, _, state = refine(frames, probs, None)
    other, other_probs = _inputs(1, 80, 60)
    with pytest.raises(InternalError, match="state=None"):
        refine(other, other_probs, state)


def test_wrong_dtypes_and_empty_chunks_are_refused() -> None:
    frames, probs = _inputs(1, 40, 60)
    with pytest.raises(InternalError, match="uint8"):
        refine(frames.astype(np.float32), probs, None)
    with pytest.raises(InternalError, match="float32"):
        refine(frames, probs.astype(np.float64), None)
    with pytest.raises(InputEmpty):
        refine(frames[:0], probs[:0], None)


def test_active_tiles_without_partial_alpha() -> None:
    # A flat frame, almost all foreground: some tiles need full-size arithmetic, yet every alpha they get
    # is exactly 0 or 255, so no tile needs its colour fixed (this crashed in cv2.merge on real footage).
    frames = np.full((1, 66, 89, 3), 7, np.uint8)
    probs = np.ones((1, 16, 16), np.float32)
    probs[0, 4, 13] = 0.95
    alpha, fg, _ = refine(frames, probs, None)
    assert alpha.shape == (1, 66, 89)
    np.testing.assert_array_equal(fg, frames)
