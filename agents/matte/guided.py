"""Fast colour guided filter (He & Sun 2015): coefficients fitted at a working scale, applied at full size.

Arrays are planar ([C, ...]): numpy is slow on interleaved channel slices, fast on whole planes.
"""

from __future__ import annotations

import cv2
import numpy as np


def _box(plane: np.ndarray, radius: int) -> np.ndarray:
    # reflected borders keep the local means unbiased at the frame edges
    side = 2 * radius + 1
    return cv2.blur(plane, (side, side), borderType=cv2.BORDER_REFLECT)


def fit(guide: np.ndarray, prob: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Per-pixel mean coefficients (a_r, a_g, a_b, b) of alpha ≈ a · rgb + b, rgb in [0, 1]: [4, h, w]."""
    # guide: [h, w, 3] float32 in [0, 1]; prob: [h, w] float32
    r, g, b = cv2.split(guide)
    mr, mg, mb, mp = (_box(x, radius) for x in (r, g, b, prob))
    # the 3×3 colour covariance (regularised) and the colour–probability covariance of each window
    crr = _box(r * r, radius) - mr * mr + eps
    crg = _box(r * g, radius) - mr * mg
    crb = _box(r * b, radius) - mr * mb
    cgg = _box(g * g, radius) - mg * mg + eps
    cgb = _box(g * b, radius) - mg * mb
    cbb = _box(b * b, radius) - mb * mb + eps
    pr = _box(r * prob, radius) - mr * mp
    pg = _box(g * prob, radius) - mg * mp
    pb = _box(b * prob, radius) - mb * mp
    # solve by the cofactor inverse of the symmetric covariance, all pixels at once
    irr = cgg * cbb - cgb * cgb
    irg = cgb * crb - crg * cbb
    irb = crg * cgb - cgg * crb
    igg = crr * cbb - crb * crb
    igb = crb * crg - crr * cgb
    ibb = crr * cgg - crg * crg
    inv_det = 1.0 / (crr * irr + crg * irg + crb * irb)
    ar = (irr * pr + irg * pg + irb * pb) * inv_det
    ag = (irg * pr + igg * pg + igb * pb) * inv_det
    ab = (irb * pr + igb * pg + ibb * pb) * inv_det
    offset = mp - ar * mr - ag * mg - ab * mb
    return np.stack([_box(x, radius) for x in (ar, ag, ab, offset)])  # [4, h, w]


def evaluate(coef: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """a · rgb + b per pixel with rgb in 0..255, on any trailing shape."""
    # coef: [4, ...] float32; rgb: [3, ...] float32 0..255
    scale = np.float32(1 / 255)
    total = coef[0] * rgb[0]
    total += coef[1] * rgb[1]
    total += coef[2] * rgb[2]
    total *= scale
    total += coef[3]
    return total  # type: ignore[no-any-return]


def saturation(coef: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Where alpha is ≤ low, or ≥ high, for every possible colour: bool masks [h, w]."""
    lowest = coef[3] + np.minimum(coef[0], 0.0) + np.minimum(coef[1], 0.0) + np.minimum(coef[2], 0.0)
    highest = coef[3] + np.maximum(coef[0], 0.0) + np.maximum(coef[1], 0.0) + np.maximum(coef[2], 0.0)
    return highest <= low, lowest >= high
