"""Foreground colour by two-level blur fusion (after Forte & Pitié 2021), corrected at full size.

The local means are taken at the working scale; `kernels.apply_full` corrects each partial pixel with them.
"""

from __future__ import annotations

import cv2
import numpy as np

from agents.compiled import jit
from agents.matte import kernels
from agents.matte.guided import box

_TINY = 1e-4  # keeps the weighted means finite where a box holds no foreground (or no background)


@jit
def _with_alpha(small: np.ndarray, alpha: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """RGB 0..255 [h, w, 3] uint8 and alpha 0..1 [h, w] → [h, w, 4] float32."""
    height, width = alpha.shape
    out = np.empty((height, width, 4), np.float32)
    for i in range(height):
        for j in range(width):
            for c in range(3):
                out[i, j, c] = small[i, j, c]
            out[i, j, 3] = alpha[i, j]
    return out


@jit
def _weighted(colours: np.ndarray, background: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Per pixel: foreground colour × alpha, background colour × (1 − alpha), alpha: [h, w, 7].

    colours: [h, w, 4] RGB 0..255 and alpha 0..1; background: [h, w, ≥6], its channels 3..5 the
    background colours (or the same array as ``colours``, whose own RGB is then the background).
    """
    height, width = colours.shape[:2]
    out = np.empty((height, width, 7), np.float32)
    own = background.shape[2] == 4
    for i in range(height):
        for j in range(width):
            a = colours[i, j, 3]
            for c in range(3):
                out[i, j, c] = colours[i, j, c] * a
                out[i, j, 3 + c] = (colours[i, j, c] if own else background[i, j, 3 + c]) * (
                    np.float32(1) - a
                )
            out[i, j, 6] = a
    return out


@jit
def _means(sums: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Boxed weighted sums [h, w, 7] → local foreground then background mean colours [h, w, 6]."""
    height, width = sums.shape[:2]
    out = np.empty((height, width, 6), np.float32)
    tiny = np.float32(_TINY)
    for i in range(height):
        for j in range(width):
            a = sums[i, j, 6]
            for c in range(3):
                out[i, j, c] = sums[i, j, c] / (a + tiny)
                out[i, j, 3 + c] = sums[i, j, 3 + c] / (np.float32(1) - a + tiny)
    return out


def local_colours(small: np.ndarray, alpha: np.ndarray, coarse_radius: int, fine_radius: int) -> np.ndarray:
    """Local foreground then background mean colours of a reduced frame: [h, w, 6] float32 0..255."""
    # small: [h, w, 3] uint8; alpha: [h, w] float32 0..1
    colours = _with_alpha(small, alpha)  # [h, w, 4]
    # a coarse pass reaches colours deep inside each region; the fine pass then keeps them local. The
    # coarse means are smooth anyway, so they are taken at half size, a quarter of the work.
    size = (alpha.shape[1], alpha.shape[0])
    half = (max(1, size[0] // 2), max(1, size[1] // 2))
    coarse = cv2.resize(colours, half, interpolation=cv2.INTER_AREA)
    coarse_means = _means(box(_weighted(coarse, coarse), max(1, coarse_radius // 2)))
    coarse_means = cv2.resize(coarse_means, size, interpolation=cv2.INTER_LINEAR)
    fine = kernels.corrected(colours, coarse_means)
    return _means(box(_weighted(fine, coarse_means), fine_radius))
