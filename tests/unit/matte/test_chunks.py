"""Chunks that start fresh but warm up on frames overlapping the previous chunk show no seam."""

from __future__ import annotations

import numpy as np

from agents.matte import refine
from agents.matte.metrics import dtssd_per_frame
from tests.unit.matte.known_alpha import KnownClip

CHUNK = 8


def _chunked(clip: KnownClip, warmup: int) -> np.ndarray:
    """Alpha from chunks of CHUNK frames, each with fresh state and `warmup` discarded leading frames."""
    outputs = []
    for start in range(0, len(clip.frames), CHUNK):
        begin = max(0, start - warmup)
        alpha, _, _ = refine(clip.frames[begin : start + CHUNK], clip.probs[begin : start + CHUNK], None)
        outputs.append(alpha[start - begin :])
    return np.concatenate(outputs)


def _border_pairs(count: int) -> np.ndarray:
    # pair i is (frame i, frame i + 1); a border pair joins a chunk's last frame to the next one's first
    return np.arange(CHUNK - 1, count - 1, CHUNK)


def test_warmed_up_chunk_borders_match_the_inside(
    clip: KnownClip, refined: tuple[np.ndarray, np.ndarray]
) -> None:
    per_pair = dtssd_per_frame(_chunked(clip, warmup=6), clip.alpha)
    border = _border_pairs(len(clip.frames))
    inside = np.setdiff1d(np.arange(len(per_pair)), border)
    # the same frame pairs when they lie inside one continuous run
    continuous = dtssd_per_frame(refined[0], clip.alpha)[border]
    assert per_pair[border].mean() <= 1.1 * continuous.mean(), (per_pair[border], continuous)
    assert per_pair[border].mean() <= 1.1 * per_pair[inside].mean(), (
        per_pair[border],
        per_pair[inside].mean(),
    )


def test_without_warmup_a_seam_shows(clip: KnownClip, refined: tuple[np.ndarray, np.ndarray]) -> None:
    border = _border_pairs(len(clip.frames))
    cold = dtssd_per_frame(_chunked(clip, warmup=0), clip.alpha)[border]
    continuous = dtssd_per_frame(refined[0], clip.alpha)[border]
    assert cold.mean() > 1.1 * continuous.mean(), (cold, continuous)
