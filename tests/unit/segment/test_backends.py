"""Backends agree with each other, batching changes nothing, and bad frames or choices are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data

from agents.segment.backends import BackendName, Segmenter, load_segmenter
from base.errors import ModelUnavailable, UnsupportedInput


def _frames(count: int) -> np.ndarray:
    """The astronaut, shifted and brightened a little per frame: ``[T, 180, 320, 3]`` uint8."""
    image = data.astronaut()[:360:2, ::2][:, :320]  # [180, 256, 3] → pad to a landscape frame
    frame = np.zeros((180, 320, 3), np.uint8)
    frame[:, 32:288] = image
    return np.stack([np.roll(frame, 6 * i, axis=1) // (1 + i % 2) for i in range(count)])


def test_onnxruntime_equals_torch(torch_selfie: Segmenter, ort_selfie: Segmenter) -> None:
    frames = _frames(3)
    expected = torch_selfie.predict(frames)
    got = ort_selfie.predict(frames)
    assert got.shape == (3, 256, 256)
    assert got.dtype == np.float32
    # ONNX Runtime runs the exported graph with the pads folded into its convs, in its blocked layout: the
    # same sums in another order (measured 2.2e-4 at most, a twentieth of one 8-bit level)
    assert np.abs(got - expected).max() < 5e-4


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_batch_equals_singles(model_cache: Path, backend: BackendName) -> None:
    frames = _frames(5)
    batched = load_segmenter("selfie", backend, "cpu", cache_dir=model_cache, batch_size=3).predict(frames)
    single = load_segmenter("selfie", backend, "cpu", cache_dir=model_cache, batch_size=1)
    singles = np.concatenate([single.predict(frames[i : i + 1]) for i in range(len(frames))])
    assert np.abs(batched - singles).max() < 1e-4  # batch-size-dependent conv kernels differ in the last bits
    assert not np.allclose(batched[0], batched[1])  # the frames differ, so must their masks


def test_output_is_a_probability_with_a_person_in_it(ort_selfie: Segmenter) -> None:
    probability = ort_selfie.predict(_frames(1))[0]
    assert probability.min() >= 0.0
    assert probability.max() <= 1.0
    assert 0.1 < (probability > 0.5).mean() < 0.9


def test_landscape_model_has_its_own_size(model_cache: Path) -> None:
    segmenter = load_segmenter("selfie-landscape", "onnxruntime", "cpu", cache_dir=model_cache, threads=1)
    assert segmenter.predict(_frames(2)).shape == (2, 144, 256)


def test_auto_on_a_cpu_machine_uses_onnxruntime(model_cache: Path) -> None:
    assert load_segmenter(cache_dir=model_cache, device="cpu").backend == "onnxruntime"


def test_no_frames_gives_no_masks(ort_selfie: Segmenter) -> None:
    assert ort_selfie.predict(np.zeros((0, 32, 32, 3), np.uint8)).shape == (0, 256, 256)


@pytest.mark.parametrize(
    "frames",
    [np.zeros((1, 32, 32, 3), np.float32), np.zeros((32, 32, 3), np.uint8), np.zeros((1, 8, 8, 4), np.uint8)],
)
def test_frames_off_contract_are_refused(ort_selfie: Segmenter, frames: np.ndarray) -> None:
    with pytest.raises(UnsupportedInput, match=r"\[T, H, W, 3\]"):
        ort_selfie.predict(frames)


def test_unknown_backend_is_refused(model_cache: Path) -> None:
    with pytest.raises(ModelUnavailable, match="unknown backend"):
        load_segmenter("selfie", "coreml", "cpu", cache_dir=model_cache)  # type: ignore[arg-type]


def test_zero_batch_size_is_refused(model_cache: Path) -> None:
    with pytest.raises(ModelUnavailable, match="batch size"):
        load_segmenter(cache_dir=model_cache, batch_size=0)
