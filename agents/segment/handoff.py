"""How probabilities leave the segment stage: rounded to float16, in the pipeline and in `process` alike.

Half the bytes of float32 between workers, and steps of at most ~5e-4 on [0, 1], an eighth of one alpha
level (1/255). `process` rounds them the same way, so the matte stage gets the same numbers on one
machine as in the pipeline, and both give the same alpha, bit for bit.
"""

from __future__ import annotations

import numpy as np


def handed_off(probs: np.ndarray) -> np.ndarray:
    """``probs`` [T, h, w] as the next stage receives them: float16 values, as float16."""
    return probs.astype(np.float16)
