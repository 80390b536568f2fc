"""One known-alpha clip per session, and the stage's outputs on it, shared by the quality tests."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agents.matte import refine
from tests.unit.matte.known_alpha import KnownClip, known_clip


@pytest.fixture(scope="session")
def clip() -> KnownClip:
    return known_clip(seed=0, size=(640, 360), frames=32)


@pytest.fixture(scope="session")
def bilinear(clip: KnownClip) -> np.ndarray:
    """The baseline: the model's probability upsampled bilinearly, [T, H, W] float32."""
    height, width = clip.alpha.shape[1:]
    return np.stack([cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR) for p in clip.probs])


@pytest.fixture(scope="session")
def refined(clip: KnownClip) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and foreground from one continuous run over the clip."""
    alpha, fg, _ = refine(clip.frames, clip.probs, None)
    return alpha, fg


@pytest.fixture(scope="session")
def per_frame(clip: KnownClip) -> np.ndarray:
    """Alpha with fresh state at every frame: no temporal smoothing at all."""
    return np.concatenate([refine(clip.frames[t : t + 1], clip.probs[t : t + 1], None)[0] for t in range(32)])
