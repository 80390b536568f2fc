"""Image helpers the stage cores share."""

from __future__ import annotations

import cv2
import numpy as np


def shrink(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` reduced to ``size`` (width, height) by area averaging.

    Halving first takes OpenCV's fast 2×2 path: a 4× reduction of 720p costs ~0.5 ms that way against
    ~1.9 ms in one INTER_AREA step, within one level of it (at other ratios the last step weighs pixels a
    little differently). INTER_AREA at odd ratios is several times slower.
    """
    while frame.shape[1] >= 2 * size[0] and frame.shape[0] >= 2 * size[1]:
        frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
