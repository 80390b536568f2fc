"""Regression: the real default model plus the matte stage on the sample clip, against our own earlier mask.

The sample clip's "true" alpha (backdrop/assets/astronaut_alpha.png) is the selfie model's own mask of the
astronaut photo, holes filled and edge softened (IoU 0.997 with the model's raw output). So this test proves
that the matte stage still improves on the raw mask (error, gradient error, flicker) and that the model's
output has not drifted from the mask it gave when the asset was made. It cannot see a segmentation mistake
the model made then, since the truth holds it too; and `mad < 0.05` is loose: measured on ONNX Runtime, the
same output still passes against a truth grown or shrunk by 7 px (11 px at the photo's own scale) or moved
9 px. Quality against an alpha independent of the model is test_traced_person_quality.py.
"""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from agents.matte import refine
from agents.matte.metrics import dtssd, gradient_error, mad
from agents.segment.backends import load_segmenter
from backdrop.sample import SampleScene
from base.settings import Settings


def test_matte_beats_the_raw_mask_and_smoothing_cuts_flicker(settings: Settings) -> None:
    scene = SampleScene(640, 360, Fraction(30))
    shots = list(scene.frames(36))
    frames = np.stack([shot.image for shot in shots])  # [T, H, W, 3]
    truth = np.stack([shot.alpha for shot in shots]).astype(np.float32) / 255  # [T, H, W]
    probs = load_segmenter(cache_dir=settings.cache_dir, threads=1).predict(frames)
    raw = np.stack([cv2.resize(p, (640, 360), interpolation=cv2.INTER_LINEAR) for p in probs])
    alone = np.concatenate([refine(frames[i : i + 1], probs[i : i + 1], None)[0] for i in range(len(frames))])
    smoothed, _, _ = refine(frames, probs, None)
    alone_f, smoothed_f = alone.astype(np.float32) / 255, smoothed.astype(np.float32) / 255
    assert mad(smoothed_f, truth) < mad(raw, truth)
    assert gradient_error(smoothed_f, truth) < 0.9 * gradient_error(raw, truth)
    assert dtssd(smoothed_f, truth) < 0.95 * dtssd(alone_f, truth)
    assert mad(smoothed_f, truth) < 0.05  # still close to the model's own earlier mask
