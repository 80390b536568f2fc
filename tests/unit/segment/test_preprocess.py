"""Resizing and normalising frames, and turning outputs into probabilities, as a spec declares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agents.segment.preprocess import resize_frame, to_network_input, to_probability
from agents.segment.registry import SELFIE, SELFIE_LANDSCAPE, ModelSpec


def _gradient(height: int, width: int) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows % 256, cols % 256, (rows + cols) % 256], axis=-1).astype(np.uint8)  # [H, W, 3]


def test_mediapipe_resize_samples_at_scaled_pixel_corners() -> None:
    frame = _gradient(512, 512)
    resized = resize_frame(frame, SELFIE)  # 2x down: pixel i reads source pixel 2i exactly, no averaging
    np.testing.assert_array_equal(resized, frame[::2, ::2])


def test_mediapipe_resize_handles_other_aspect_ratios() -> None:
    resized = resize_frame(_gradient(720, 1280), SELFIE_LANDSCAPE)
    assert resized.shape == (144, 256, 3)
    np.testing.assert_array_equal(resized[:, 0, 0], (np.arange(144) * 5).astype(np.uint8))


def test_selfie_input_is_rgb_scaled_to_unit_range() -> None:
    frames = np.broadcast_to(np.array([255, 0, 51], np.uint8), (2, 256, 256, 3))
    network_input = to_network_input(frames, SELFIE)
    assert network_input.shape == (2, 3, 256, 256)
    assert network_input.dtype == np.float32
    np.testing.assert_allclose(network_input[0, :, 0, 0], [1.0, 0.0, 0.2], atol=1e-6)


@pytest.mark.parametrize(
    ("output", "expected"), [("probability", 0.75), ("logits", 1 / (1 + np.exp(-0.75))), ("softmax", None)]
)
def test_outputs_become_probabilities(output: str, expected: float | None) -> None:
    spec = ModelSpec("m", (4, 4), "onnx", path=Path("m.onnx"), output=output, output_channel=1)  # type: ignore[arg-type]
    raw = np.stack([np.full((4, 4), 0.25), np.full((4, 4), 0.75)])[None].astype(np.float32)  # [1, 2, 4, 4]
    probability = to_probability(raw, spec)
    softmax = np.exp(0.75) / (np.exp(0.25) + np.exp(0.75))
    np.testing.assert_allclose(probability, expected if expected is not None else softmax, atol=1e-6)
