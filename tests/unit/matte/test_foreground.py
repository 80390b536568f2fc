"""Foreground colour: composited over a new background it leaves less of the old one than the raw frame."""

from __future__ import annotations

import cv2
import numpy as np

from agents.matte import foreground, kernels
from tests.unit.matte.known_alpha import KnownClip

NEW_BACKGROUND = np.array([40.0, 200.0, 60.0], np.float32)  # a green the old background never matches


def _edge_band(alpha: np.ndarray) -> np.ndarray:
    """Pixels within 2 px of the true soft edge: [T, H, W] bool."""
    soft = ((alpha > 0.02) & (alpha < 0.98)).astype(np.uint8)
    return np.stack([cv2.dilate(s, np.ones((5, 5), np.uint8)) > 0 for s in soft])


def _composite_error(clip: KnownClip, alpha: np.ndarray, colour: np.ndarray) -> float:
    """Mean absolute difference (0..255) near the edges from the true foreground over the new background."""
    truth = clip.alpha[..., None] * clip.foreground + (1.0 - clip.alpha[..., None]) * NEW_BACKGROUND
    ours = alpha[..., None] * colour.astype(np.float32) + (1.0 - alpha[..., None]) * NEW_BACKGROUND
    return float(np.abs(ours - truth)[_edge_band(clip.alpha)].mean())


def test_refined_foreground_has_less_halo_than_the_frame(
    clip: KnownClip, refined: tuple[np.ndarray, np.ndarray]
) -> None:
    alpha = refined[0].astype(np.float32) / 255.0
    raw = _composite_error(clip, alpha, clip.frames)
    ours = _composite_error(clip, alpha, refined[1])
    assert ours < 0.97 * raw, (ours, raw)


def test_blur_fusion_with_the_true_alpha_removes_most_of_the_halo(clip: KnownClip) -> None:
    frames, alpha = clip.frames[:4], clip.alpha[:4]
    colours = np.empty_like(frames)
    for t in range(len(frames)):
        means = foreground.local_colours(frames[t], alpha[t].astype(np.float32), 32, 2)
        colours[t] = _fused(frames[t], alpha[t], means)
    raw = _composite_error(_first(clip, 4), alpha, frames)
    ours = _composite_error(_first(clip, 4), alpha, colours)
    assert ours < 0.75 * raw, (ours, raw)


def _fused(frame: np.ndarray, alpha: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The full-resolution pass with the given alpha and means at full size (identity interpolation)."""
    height, width = alpha.shape
    coef = np.zeros((height, width, 4), np.float32)
    coef[..., 3] = alpha  # alpha = 0 · rgb + alpha
    tiles = (-(-height // 16), -(-width // 16))
    out_alpha, fg = np.empty((height, width), np.uint8), frame.copy()
    rows, cols = kernels.bilinear_table(height, height), kernels.bilinear_table(width, width)
    kernels.apply_full(
        frame, coef, means, np.ones(tiles, bool), np.zeros(tiles, np.uint8), rows, cols, 16,
        np.float32(0.0), np.float32(255.0), out_alpha, fg,
    )  # fmt: skip
    assert np.abs(out_alpha.astype(int) - np.rint(alpha * 255)).max() <= 1
    return fg


def _first(clip: KnownClip, count: int) -> KnownClip:
    return KnownClip(
        *(
            x[:count]
            for x in (clip.frames, clip.alpha, clip.foreground, clip.probs, clip.fg_moving, clip.bg_moving)
        )
    )
