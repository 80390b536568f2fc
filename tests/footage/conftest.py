"""Fixtures of the footage tests: the real clips (skipped where absent, a failure on CI) and the model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.segment.backends import Segmenter, load_segmenter
from base.settings import Settings

# Beside the repository, as the project's machines and CI lay it out (see its README for the clips' source).
FOOTAGE = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "real-footage"


@pytest.fixture(scope="session")
def footage() -> Path:
    """The real-footage folder; skipped where it is missing, except on CI, where that is a failure."""
    if not FOOTAGE.is_dir():
        message = f"the real footage is not at {FOOTAGE}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must have it")
        pytest.skip(message)
    return FOOTAGE


@pytest.fixture(scope="session")
def segmenter(settings: Settings) -> Segmenter:
    """The default model as `backdrop process` loads it on a CPU (one inference thread), loaded once."""
    # Pinned to ONNX Runtime on the CPU: the alpha levels asserted were measured there (a GPU runs fp16).
    return load_segmenter(backend="onnxruntime", device="cpu", cache_dir=settings.cache_dir, threads=1)
