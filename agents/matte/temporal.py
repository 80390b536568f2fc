"""Motion-adaptive smoothing of the working-scale probability: calm where still, immediate where moving."""

from __future__ import annotations

import cv2
import numpy as np


def blend_weight(
    grey: np.ndarray,
    previous_grey: np.ndarray,
    prob: np.ndarray,
    previous_prob: np.ndarray,
    still_weight: float,
    motion_levels: tuple[float, float],
    jump_levels: tuple[float, float],
    motion_radius: int,
) -> np.ndarray:
    """Per-pixel weight of the new probability: `still_weight` where nothing changed, 1 where it moved."""
    # grey, previous_grey: [h, w] uint8; prob, previous_prob: [h, w] float32
    side = 2 * motion_radius + 1
    # the box spreads motion measured on textured pixels over the flat ones next to them
    diff = cv2.blur(cv2.absdiff(grey, previous_grey).astype(np.float32), (side, side))
    low, high = motion_levels
    moving = np.clip((diff - low) * (1.0 / (high - low)), 0.0, 1.0)
    # a probability that jumps far is a real change even where the colours barely differ
    jump_low, jump_high = jump_levels
    jumped = np.clip((np.abs(prob - previous_prob) - jump_low) * (1.0 / (jump_high - jump_low)), 0.0, 1.0)
    weight: np.ndarray = still_weight + (1.0 - still_weight) * np.maximum(moving, jumped)
    return weight  # [h, w] float32


def stabilise(prob: np.ndarray, previous_prob: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Blend the new probability into the previous one with a per-pixel weight."""
    blended: np.ndarray = previous_prob + weight * (prob - previous_prob)
    return blended  # [h, w] float32
