"""Matte core properties: any frame size, any probability map, any chunking gives alpha and colour."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agents.matte import MatteState, handoff, metrics, refine
from base.errors import InternalError
from tests.unit.properties.strategies import (
    MAP_KINDS,
    ONE_COLUMN,
    ONE_PIXEL,
    ONE_ROW,
    TWO_BY_TWO,
    WIDE_4K_PLUS_1,
    bounded,
    chunk_lengths,
    frame_sizes,
    frames,
    map_sizes,
    probability_map,
    seeds,
)

kind_lists = st.lists(st.sampled_from(MAP_KINDS), min_size=1, max_size=6)


@bounded(80)
@given(size=frame_sizes, model=map_sizes, kinds=kind_lists, seed=seeds)
@example(size=TWO_BY_TWO, model=(1, 1), kinds=["speckle"], seed=0)
@example(size=ONE_PIXEL, model=(40, 40), kinds=["one_pixel", "nan"], seed=1)
@example(size=ONE_ROW, model=(1, 40), kinds=["foreground", "background", "foreground"], seed=2)
@example(size=ONE_COLUMN, model=(40, 1), kinds=["outside", "random"], seed=3)
@example(size=WIDE_4K_PLUS_1, model=(16, 16), kinds=["speckle", "one_pixel"], seed=4)
@example(size=(66, 89), model=(16, 16), kinds=["nan", "random", "nan", "foreground"], seed=5)
# a flat frame, one faint hole in the map: tiles that need work get no partial alpha (the 768×432 crash)
@example(size=(66, 89), model=(16, 16), kinds=["one_hole"], seed=21)
def test_chunks_give_full_size_alpha_and_the_whole_run(
    size: tuple[int, int], model: tuple[int, int], kinds: list[str], seed: int
) -> None:
    count = len(kinds)
    clip = frames(seed, count, size)  # [T, H, W, 3]
    probs = np.stack([probability_map(kind, seed + i, model) for i, kind in enumerate(kinds)])
    cuts = np.random.default_rng(seed).random(count) < 0.3
    whole_alpha, whole_fg, _ = refine(clip, probs, None, cuts)
    state: MatteState | None = None
    start = 0
    for length in chunk_lengths(count, seed):
        part = slice(start, start + length)
        # a chunk that starts at a cut may start fresh: the cut resets the smoothing anyway
        alpha, fg, state = refine(clip[part], probs[part], None if cuts[start] else state, cuts[part])
        assert alpha.shape == (length, *size)
        assert alpha.dtype == np.uint8
        assert fg.shape == (length, *size, 3)
        assert fg.dtype == np.uint8
        assert state.prob.dtype == np.float32
        assert np.isfinite(state.prob).all()
        assert ((state.prob >= 0) & (state.prob <= 1)).all()
        # the workers' hand-off (the frame, plus colour where alpha is partial) rebuilds every visible pixel
        rebuilt = handoff.foreground(clip[part], alpha, handoff.partial_colours(alpha, fg))
        np.testing.assert_array_equal(rebuilt[alpha > 0], fg[alpha > 0])
        # carried state makes chunking invisible, as the matte workers and `process` rely on
        np.testing.assert_array_equal(alpha, whole_alpha[part])
        np.testing.assert_array_equal(fg, whole_fg[part])
        start += length


@bounded(40)
@given(
    size=frame_sizes,
    model=map_sizes,
    count=st.integers(1, 3),
    seed=seeds,
    value=st.sampled_from([0.0, 1.0, np.nan, -2.0, 5.0, np.inf, -np.inf]),
)
@example(size=ONE_PIXEL, model=(1, 1), count=1, seed=0, value=np.nan)
@example(size=TWO_BY_TWO, model=(3, 3), count=2, seed=0, value=1.0)
def test_uniform_maps_give_exact_alpha(
    size: tuple[int, int], model: tuple[int, int], count: int, seed: int, value: float
) -> None:
    # values outside [0, 1] count as the nearest end; NaN (no answer from the model) as background
    expected = 255 if value >= 1 else 0
    probs = np.full((count, *model), value, np.float32)
    clip = frames(seed, count, size)
    alpha, fg, _ = refine(clip, probs, None)
    assert (alpha == expected).all()
    if expected == 255:
        np.testing.assert_array_equal(fg, clip)


def test_caller_bugs_are_internal_errors_and_one_frame_has_no_flicker() -> None:
    # arrays without pixels are a bug upstream: reported as ours, not as an OpenCV assertion
    clip, probs = np.zeros((2, 4, 4, 3), np.uint8), np.zeros((2, 4, 4), np.float32)
    for frames_in, probs_in in ((clip[:, :0], probs), (clip, probs[:, :, :0])):
        with pytest.raises(InternalError, match="without pixels"):
            refine(frames_in, probs_in, None)
    alpha = np.zeros((1, 4, 4), np.uint8)
    assert metrics.dtssd(alpha, alpha) == metrics.flicker(alpha) == 0.0
