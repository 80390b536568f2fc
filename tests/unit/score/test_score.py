from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from agents.matte import reduced
from agents.score import ScoreState, analysis_size, score
from base.errors import InternalError

U8 = npt.NDArray[np.uint8]


def _scene(seed: int, t: int = 6, shift: int = 3, size: tuple[int, int] = (120, 160)) -> U8:
    """A textured scene panning ``shift`` px per frame."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (30, 60, 3), dtype=np.uint8), (size[1] + t * shift, size[0]))
    tint = rng.integers(0, 256, 3, dtype=np.uint8)
    base = cv2.addWeighted(base, 0.5, np.full_like(base, tint), 0.5, 0)
    return np.stack([base[:, i * shift : i * shift + size[1]] for i in range(t)])


def test_sharp_frames_score_above_blurred_ones() -> None:
    frames = _scene(1, t=2, shift=0)
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 3) for f in frames])
    sharp_scores, _ = score(frames)
    blur_scores, _ = score(blurred)
    assert (sharp_scores.sharpness > 3 * blur_scores.sharpness).all()


def test_still_frames_have_no_motion_and_a_pan_has_some() -> None:
    still, _ = score(_scene(2, shift=0))
    pan, _ = score(_scene(2, shift=4))
    assert still.motion.max() == 0.0
    assert (pan.motion[1:] > 0.005).all()
    assert pan.motion[0] == 0.0  # nothing to compare the first frame with


def test_exposure_and_clipping() -> None:
    dark = np.full((2, 32, 32, 3), 2, np.uint8)
    mid = np.full((2, 32, 32, 3), 128, np.uint8)
    dark_scores, _ = score(dark)
    mid_scores, _ = score(mid)
    assert dark_scores.exposure.max() < 0.02
    assert dark_scores.clipped.min() == 1.0
    assert mid_scores.exposure == pytest.approx([128 / 255] * 2, abs=0.01)
    assert mid_scores.clipped.max() == 0.0


def test_quality_prefers_well_exposed_sharp_frames() -> None:
    frames = _scene(7, t=2, shift=0)
    underexposed = (frames // 40).astype(np.uint8)
    good, _ = score(frames)
    bad, _ = score(underexposed)
    assert (good.quality() > bad.quality()).all()


def test_a_scene_cut_is_found_and_a_pan_is_not_a_cut() -> None:
    frames = np.concatenate([_scene(3, t=10), _scene(4, t=10)])
    result, _ = score(frames)
    assert np.flatnonzero(result.cut).tolist() == [10]
    assert result.motion[10] == 0.0


def test_state_carries_across_batches() -> None:
    frames = np.concatenate([_scene(5, t=10), _scene(6, t=10)])
    whole, _ = score(frames)
    first, state = score(frames[:7])
    second, _ = score(frames[7:], state)
    np.testing.assert_allclose(np.concatenate([first.motion, second.motion]), whole.motion)
    assert np.concatenate([first.cut, second.cut]).tolist() == whole.cut.tolist()
    assert isinstance(state, ScoreState)


def test_frames_reduced_by_the_matte_score_as_the_frames_themselves() -> None:
    # `process` reduces each landscape frame once, for the matte's working scale and the scores alike
    frames = _scene(7, t=5, size=(360, 640))
    small = reduced(frames)
    assert analysis_size(360, 640) == (small.shape[2], small.shape[1])
    own, own_state = score(frames)
    shared, shared_state = score(frames, small=small)
    for field in ("sharpness", "motion", "exposure", "clipped", "cut"):
        np.testing.assert_array_equal(getattr(shared, field), getattr(own, field))
    np.testing.assert_array_equal(shared_state.prev_grey, own_state.prev_grey)
    with pytest.raises(InternalError, match="reduced frames"):
        score(frames, small=small[:, :-1])


def test_rejects_wrong_shapes() -> None:
    with pytest.raises(InternalError, match=r"\[T, H, W, 3\]"):
        score(np.zeros((4, 4, 3), np.uint8))
