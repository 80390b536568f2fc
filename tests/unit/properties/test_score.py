"""Score core properties: finite per-frame numbers for any frame size and any chunking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agents.score import ScoreState, score
from base.errors import InternalError
from tests.unit.properties.strategies import (
    ONE_COLUMN,
    ONE_PIXEL,
    ONE_ROW,
    TWO_BY_TWO,
    WIDE_4K_PLUS_1,
    bounded,
    chunk_lengths,
    frame_sizes,
    frames,
    seeds,
)


@bounded(80)
@given(size=frame_sizes, count=st.integers(1, 12), seed=seeds)
@example(size=TWO_BY_TWO, count=1, seed=0)
@example(size=ONE_PIXEL, count=3, seed=1)
@example(size=ONE_ROW, count=2, seed=2)
@example(size=ONE_COLUMN, count=2, seed=3)
@example(size=WIDE_4K_PLUS_1, count=2, seed=4)
def test_chunked_scores_are_finite_and_match_one_run(size: tuple[int, int], count: int, seed: int) -> None:
    # several short scenes (noise, flat, black, white) give cuts, and cuts inside chunks
    clip = np.concatenate([frames(seed + i, 3, size) for i in range(count)])
    whole, _ = score(clip)
    state: ScoreState | None = None
    start = 0
    for length in [0, *chunk_lengths(len(clip), seed)]:  # an empty chunk first: nothing, state untouched
        scores, state = score(clip[start : start + length], state)
        for values in (scores.sharpness, scores.motion, scores.exposure, scores.clipped, scores.quality()):
            assert values.shape == (length,)
            assert np.isfinite(values).all()
        assert (scores.sharpness >= 0).all()
        for unit in (scores.motion, scores.exposure, scores.clipped):
            assert ((unit >= 0) & (unit <= 1)).all()
        assert scores.cut.shape == (length,)
        assert scores.cut.dtype == np.bool_
        # the carried state makes chunk borders invisible (cuts included)
        np.testing.assert_array_equal(scores.cut, whole.cut[start : start + length])
        np.testing.assert_array_equal(scores.motion, whole.motion[start : start + length])
        start += length


def test_caller_bugs_are_internal_errors() -> None:
    _, state = score(np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(InternalError, match="state=None"):
        score(np.zeros((1, 9, 8, 3), np.uint8), state)  # a state from a clip of another size
    with pytest.raises(InternalError, match="no pixels"):
        score(np.zeros((1, 0, 8, 3), np.uint8))
