"""Segment fixtures: the model cache (fetched from PyPI on the first run only) and ready segmenters."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.segment.assets import ensure_selfie_tflites
from agents.segment.backends import Segmenter, load_segmenter
from base.settings import Settings


@pytest.fixture(scope="session")
def model_cache(settings: Settings) -> Path:
    """The user's cache folder (default ~/.cache/backdrop), so repeated runs stay offline."""
    ensure_selfie_tflites(settings.cache_dir, ("general", "landscape"))
    return settings.cache_dir


@pytest.fixture(scope="session")
def torch_selfie(model_cache: Path) -> Segmenter:
    return load_segmenter("selfie", "torch", "cpu", cache_dir=model_cache, batch_size=4)


@pytest.fixture(scope="session")
def ort_selfie(model_cache: Path) -> Segmenter:
    return load_segmenter("selfie", "onnxruntime", "cpu", cache_dir=model_cache, batch_size=4, threads=1)
