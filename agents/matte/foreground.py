"""Foreground colour by two-level blur fusion (after Forte & Pitié 2021), corrected at full size."""

from __future__ import annotations

import cv2
import numpy as np

_TINY = 1e-4  # keeps the weighted means finite where a box holds no foreground (or no background)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    side = 2 * radius + 1
    return cv2.blur(image, (side, side), borderType=cv2.BORDER_REFLECT)


def _weighted_means(
    fg: np.ndarray, bg: np.ndarray, alpha3: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """Local mean foreground colour (weighted by alpha) and background colour (weighted by 1 - alpha)."""
    # fg, bg, alpha3: [h, w, 3] float32
    mean_alpha = _box(alpha3, radius)
    fg_mean = _box(fg * alpha3, radius) / (mean_alpha + _TINY)
    bg_mean = _box(bg * (1.0 - alpha3), radius) / (1.0 - mean_alpha + _TINY)
    return fg_mean, bg_mean


def _correct(image: np.ndarray, alpha: np.ndarray, fg_mean: np.ndarray, bg_mean: np.ndarray) -> np.ndarray:
    # F = F̄ + α (I − α F̄ − (1 − α) B̄): exact where the local means are right, I itself where α = 1
    mixed = fg_mean - bg_mean
    mixed *= alpha
    mixed += bg_mean
    residual: np.ndarray = image - mixed
    residual *= alpha
    residual += fg_mean
    return residual


def local_colours(small: np.ndarray, alpha: np.ndarray, coarse_radius: int, fine_radius: int) -> np.ndarray:
    """Local foreground then background mean colours of a reduced frame: planar [6, h, w] float32 0..255."""
    # small: [h, w, 3] float32 0..255; alpha: [h, w] float32 0..1
    alpha3 = cv2.merge([alpha, alpha, alpha])
    # a coarse pass reaches colours deep inside each region; the fine pass then keeps them local. The
    # coarse means are smooth anyway, so they are taken at half size, a quarter of the work.
    size = (alpha.shape[1], alpha.shape[0])
    half = (max(1, size[0] // 2), max(1, size[1] // 2))
    coarse = [cv2.resize(x, half, interpolation=cv2.INTER_AREA) for x in (small, alpha3)]
    fg_mean, bg_mean = _weighted_means(coarse[0], coarse[0], coarse[1], max(1, coarse_radius // 2))
    fg_mean, bg_mean = (cv2.resize(x, size, interpolation=cv2.INTER_LINEAR) for x in (fg_mean, bg_mean))
    fg = np.clip(_correct(small, alpha3, fg_mean, bg_mean), 0.0, 255.0)
    fg_mean, bg_mean = _weighted_means(fg, bg_mean, alpha3, fine_radius)
    return np.concatenate([fg_mean, bg_mean], axis=2).transpose(2, 0, 1).copy()


def fuse(rgb: np.ndarray, alpha: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Full-resolution foreground colour from the frame, the alpha and the upsampled local means."""
    # rgb: [3, ...] float32 0..255; alpha: [...] uint8; means: [6, ...] float32 (foreground, background)
    a = alpha.astype(np.float32) * np.float32(1 / 255)
    out = np.empty(rgb.shape, np.uint8)
    for c in range(3):
        colour = _correct(rgb[c], a, means[c], means[3 + c])
        np.clip(colour + 0.5, 0.0, 255.0, out=colour)
        out[c] = colour
    return out  # [3, ...] uint8
