"""Temporal smoothing: less flicker where still, no lag on moving edges, restart at cuts."""

from __future__ import annotations

import numpy as np

from agents.matte import reduced, refine, settle
from agents.matte.metrics import dtssd, mad
from tests.unit.matte.known_alpha import KnownClip


def test_smoothing_lowers_dtssd(
    clip: KnownClip, refined: tuple[np.ndarray, np.ndarray], per_frame: np.ndarray
) -> None:
    smoothed, alone = dtssd(refined[0], clip.alpha), dtssd(per_frame, clip.alpha)
    assert smoothed < 0.85 * alone, (smoothed, alone)


def test_smoothing_calms_the_still_frames(
    clip: KnownClip, refined: tuple[np.ndarray, np.ndarray], per_frame: np.ndarray
) -> None:
    still = slice(0, int(np.argmax(clip.fg_moving)))  # frames before the person first moves
    smoothed, alone = dtssd(refined[0][still], clip.alpha[still]), dtssd(per_frame[still], clip.alpha[still])
    assert smoothed < 0.5 * alone, (smoothed, alone)


def test_moving_edges_do_not_lag(
    clip: KnownClip, refined: tuple[np.ndarray, np.ndarray], per_frame: np.ndarray
) -> None:
    # smoothing that trailed the moving person would raise the error on the moving frames; allow 5 %
    moving = clip.fg_moving
    smoothed, alone = mad(refined[0][moving], clip.alpha[moving]), mad(per_frame[moving], clip.alpha[moving])
    assert smoothed <= 1.05 * alone, (smoothed, alone)


def test_a_cut_restarts_the_smoothing(clip: KnownClip) -> None:
    cuts = np.zeros(12, bool)
    cuts[6] = True
    alpha, fg, _ = refine(clip.frames[:12], clip.probs[:12], None, cuts)
    fresh_alpha, fresh_fg, _ = refine(clip.frames[6:12], clip.probs[6:12], None)
    np.testing.assert_array_equal(alpha[6:], fresh_alpha)
    np.testing.assert_array_equal(fg[6:], fresh_fg)
    # and without the cut the same frames do depend on what came before
    carried, _, _ = refine(clip.frames[:12], clip.probs[:12], None)
    assert not np.array_equal(carried[6:], fresh_alpha)


def test_state_carries_across_calls(clip: KnownClip, refined: tuple[np.ndarray, np.ndarray]) -> None:
    first, _, state = refine(clip.frames[:5], clip.probs[:5], None)
    second, _, _ = refine(clip.frames[5:10], clip.probs[5:10], state)
    np.testing.assert_array_equal(np.concatenate([first, second]), refined[0][:10])


def test_settling_leaves_the_state_refining_leaves(
    clip: KnownClip, refined: tuple[np.ndarray, np.ndarray]
) -> None:
    # a chunk's warm-up frames only settle the state: what follows is as if they had been refined
    cuts = np.zeros(8, bool)
    cuts[3] = True
    _, _, refined_state = refine(clip.frames[:8], clip.probs[:8], None, cuts)
    settled = settle(reduced(clip.frames[:8]), clip.probs[:8], None, cuts)
    np.testing.assert_array_equal(settled.prob, refined_state.prob)
    np.testing.assert_array_equal(settled.grey, refined_state.grey)
    state = settle(reduced(clip.frames[:6]), clip.probs[:6], None)
    # frames reduced by the caller give what refine reduces itself
    alpha, fg, _ = refine(clip.frames[6:12], clip.probs[6:12], state, small=reduced(clip.frames[6:12]))
    np.testing.assert_array_equal(alpha, refined[0][6:12])
    np.testing.assert_array_equal(fg, refined[1][6:12])
    assert reduced(clip.frames[:0]).shape == (0, 180, 320, 3)  # an empty batch reduces to an empty one
