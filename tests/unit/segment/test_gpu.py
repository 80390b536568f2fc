"""CUDA and TensorRT paths: checked against the CPU result where a GPU is present, skipped elsewhere."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from agents.segment.backends import Segmenter, load_segmenter
from base.errors import ModelUnavailable

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def _frames() -> np.ndarray:
    return np.stack([data.astronaut(), data.astronaut()[:, ::-1]])  # [2, 512, 512, 3]


@needs_cuda
def test_torch_cuda_fp16_matches_cpu(model_cache: Path, ort_selfie: Segmenter) -> None:
    segmenter = load_segmenter("selfie", "torch", "cuda", cache_dir=model_cache, batch_size=2)
    got, expected = segmenter.predict(_frames()), ort_selfie.predict(_frames())
    assert np.abs(got - expected).mean() < 2e-3
    assert ((got > 0.5) == (expected > 0.5)).mean() > 0.995


@needs_cuda
def test_tensorrt_matches_cpu(model_cache: Path, ort_selfie: Segmenter) -> None:
    pytest.importorskip("tensorrt")
    segmenter = load_segmenter("selfie", "tensorrt", "cuda", cache_dir=model_cache, batch_size=2)
    got, expected = segmenter.predict(_frames()), ort_selfie.predict(_frames())
    assert np.abs(got - expected).mean() < 2e-3
    assert ((got > 0.5) == (expected > 0.5)).mean() > 0.995
    assert load_segmenter(cache_dir=model_cache, batch_size=2).backend == "tensorrt"  # auto, engine cached


def test_tensorrt_without_a_gpu_is_refused(model_cache: Path) -> None:
    with pytest.raises(ModelUnavailable, match="tensorrt"):
        load_segmenter("selfie", "tensorrt", "cpu", cache_dir=model_cache)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_a_gpu_is_refused(model_cache: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no CUDA GPU"):
        load_segmenter("selfie", "torch", "cuda", cache_dir=model_cache)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed")
def test_missing_tensorrt_says_how_to_install_it() -> None:
    from agents.segment.tensorrt_backend import _tensorrt

    with pytest.raises(ModelUnavailable, match=r"backdrop\[gpu\]"):
        _tensorrt()
