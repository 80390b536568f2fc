"""Shapes, dtypes and the errors callers see."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agents.matte import MatteParams, guided, refine
from agents.matte.upsample import TileUpsampler
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
    # the skipped tiles and the tile upsampling must give what evaluating every pixel would
    frames, probs = _inputs(1, 180, 250)
    params = MatteParams(work_long_side=125, still_weight=1.0)
    alpha, _, state = refine(frames, probs, None, params=params)
    small = cv2.resize(frames[0], (125, 90), interpolation=cv2.INTER_AREA).astype(np.float32)
    coef = guided.fit(small / 255, state.prob, params.radius, params.eps)
    full = cv2.resize(coef.transpose(1, 2, 0), (250, 180), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    low, high = params.alpha_range
    value = guided.evaluate(full, np.moveaxis(frames[0], -1, 0).astype(np.float32))
    expected = np.clip((value - low) * 255 / (high - low) + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(alpha[0].astype(int) - expected).max() <= 1


def test_tile_upsampler_matches_opencv() -> None:
    small = np.random.default_rng(1).random((2, 45, 71), dtype=np.float32)
    upsampler = TileUpsampler.build((183, 290), (45, 71), 16)
    expected = cv2.resize(small.transpose(1, 2, 0), (290, 183), interpolation=cv2.INTER_LINEAR)
    ti, tj = np.array([0, 3, 10]), np.array([0, 17, 5])
    tiles = upsampler.tiles(small, ti, tj)  # [2, 3, 16, 16]
    for k, (i, j) in enumerate(zip(ti, tj, strict=True)):
        block = expected[16 * i : 16 * i + 16, 16 * j : 16 * j + 16].transpose(2, 0, 1)
        np.testing.assert_allclose(tiles[:, k], block, atol=1e-4)
    np.testing.assert_allclose(
        upsampler.strip(small, slice(176, None), slice(None)), expected[176:].transpose(2, 0, 1), atol=1e-4
    )


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
