"""`backdrop bench --compare-models A,B --input CLIP…`: the segmentation models side by side on real clips.

There is no ground truth for real footage, so this reports what can be judged without one: how much of
each frame a model calls foreground (on a clip with nobody in it, less is better), how far two models
agree (IoU of their masks), how much a mask flickers from one sampled frame to the next, and the time a
frame takes.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from agents.extract import iter_frames, probe
from agents.segment.backends import Segmenter, load_segmenter

FOREGROUND = 0.5


def sampled_frames(path: Path, count: int) -> np.ndarray:
    """``count`` frames spread evenly over the clip, ``[N, H, W, 3]`` uint8 RGB."""
    total = probe(path).frame_count or 1
    wanted = set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist())
    kept = [
        frame
        for batch in iter_frames(path, 16)
        for index, frame in zip(batch.indices.tolist(), batch.frames, strict=True)
        if index in wanted
    ]
    return np.stack(kept)


def masks(segmenter: Segmenter, frames: np.ndarray) -> tuple[np.ndarray, float]:
    """Foreground masks at the frames' size (``[N, H, W]`` bool) and milliseconds per frame."""
    started = time.perf_counter()
    probabilities = segmenter.predict(frames)  # [N, h, w] at the model's input size
    elapsed = time.perf_counter() - started
    height, width = frames.shape[1:3]
    full = np.stack([cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR) for p in probabilities])
    return full > FOREGROUND, elapsed * 1000 / len(frames)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def compare_models(
    clips: list[Path], models: list[str], cache_dir: Path, frames_per_clip: int = 8
) -> dict[str, object]:
    """Per clip and model: mean and largest foreground share, flicker and ms a frame; per clip, the IoU
    of the first model's masks with each other's."""
    segmenters = {name: load_segmenter(name, cache_dir=cache_dir, batch_size=1) for name in models}
    report: dict[str, object] = {"frames_per_clip": frames_per_clip, "models": models}
    for clip in clips:
        frames = sampled_frames(clip, frames_per_clip)
        found = {name: masks(segmenter, frames) for name, segmenter in segmenters.items()}
        first = found[models[0]][0]
        row: dict[str, object] = {}
        for name, (mask, ms) in found.items():
            share = mask.reshape(len(mask), -1).mean(axis=1)
            agreement = np.mean([_iou(a, b) for a, b in zip(first, mask, strict=True)])
            # Share of pixels that change class between consecutive sampled frames.
            flicker = float(np.mean(mask[1:] != mask[:-1])) if len(mask) > 1 else 0.0
            row[name] = {
                "foreground_mean": round(float(share.mean()), 4),
                "foreground_max": round(float(share.max()), 4),
                "flicker": round(flicker, 4),
                "ms_per_frame": round(ms, 1),
                "iou_with_" + models[0]: round(float(agreement), 3),
            }
        report[clip.name] = row
    return report
