"""Fast colour guided filter (He & Sun 2015): coefficients fitted at a working scale, applied at full size.

Maps are interleaved ([h, w, C]): OpenCV boxes all channels of one image in a single call, and the
compiled loops read each pixel's values side by side.
"""

from __future__ import annotations

import cv2
import numpy as np

from agents.compiled import jit

MOMENTS = 13
"""r, g, b, p, then rr, rg, rb, gg, gb, bb, then rp, gp, bp (colours in [0, 1], p the probability)."""


def box(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2·radius + 1)² window of every channel; reflected borders keep the means unbiased."""
    side = 2 * radius + 1
    return cv2.blur(image, (side, side), borderType=cv2.BORDER_REFLECT)


@jit
def _moments(guide: np.ndarray, prob: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    height, width = prob.shape
    out = np.empty((height, width, MOMENTS), np.float32)
    scale = np.float32(1 / 255)
    for i in range(height):
        for j in range(width):
            r = np.float32(guide[i, j, 0]) * scale
            g = np.float32(guide[i, j, 1]) * scale
            b = np.float32(guide[i, j, 2]) * scale
            p = prob[i, j]
            m = out[i, j]
            m[0], m[1], m[2], m[3] = r, g, b, p
            m[4], m[5], m[6], m[7], m[8], m[9] = r * r, r * g, r * b, g * g, g * b, b * b
            m[10], m[11], m[12] = r * p, g * p, b * p
    return out


@jit
def _solve(means: np.ndarray, eps: np.float32) -> np.ndarray:  # pragma: no cover - compiled
    height, width = means.shape[:2]
    out = np.empty((height, width, 4), np.float32)
    for i in range(height):
        for j in range(width):
            m = means[i, j]
            mr, mg, mb, mp = m[0], m[1], m[2], m[3]
            # the 3×3 colour covariance (regularised) and the colour–probability covariance of the window
            crr = m[4] - mr * mr + eps
            crg = m[5] - mr * mg
            crb = m[6] - mr * mb
            cgg = m[7] - mg * mg + eps
            cgb = m[8] - mg * mb
            cbb = m[9] - mb * mb + eps
            pr = m[10] - mr * mp
            pg = m[11] - mg * mp
            pb = m[12] - mb * mp
            # solved by the cofactor inverse of the symmetric covariance
            irr = cgg * cbb - cgb * cgb
            irg = cgb * crb - crg * cbb
            irb = crg * cgb - cgg * crb
            igg = crr * cbb - crb * crb
            igb = crb * crg - crr * cgb
            ibb = crr * cgg - crg * crg
            inv_det = np.float32(1.0) / (crr * irr + crg * irg + crb * irb)
            ar = (irr * pr + irg * pg + irb * pb) * inv_det
            ag = (irg * pr + igg * pg + igb * pb) * inv_det
            ab = (irb * pr + igb * pg + ibb * pb) * inv_det
            out[i, j, 0], out[i, j, 1], out[i, j, 2] = ar, ag, ab
            out[i, j, 3] = mp - ar * mr - ag * mg - ab * mb
    return out


def fit(guide: np.ndarray, prob: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Per-pixel mean coefficients (a_r, a_g, a_b, b) of alpha ≈ a · rgb + b, rgb in [0, 1]: [h, w, 4]."""
    # guide: [h, w, 3] uint8 RGB; prob: [h, w] float32
    means = box(_moments(guide, prob), radius)
    return box(_solve(means, np.float32(eps)), radius)


@jit
def saturation(
    coef: np.ndarray, low: np.float32, high: np.float32
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Where alpha is ≤ low, or ≥ high, for every possible colour: bool masks [h, w]."""
    height, width = coef.shape[:2]
    lows = np.empty((height, width), np.bool_)
    highs = np.empty((height, width), np.bool_)
    for i in range(height):
        for j in range(width):
            c = coef[i, j]
            zero = np.float32(0.0)
            lowest = c[3] + min(c[0], zero) + min(c[1], zero) + min(c[2], zero)
            highest = c[3] + max(c[0], zero) + max(c[1], zero) + max(c[2], zero)
            lows[i, j] = highest <= low
            highs[i, j] = lowest >= high
    return lows, highs
