"""The selfie .tflite files are pinned by sha256; a missing or altered cached file is never used."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from agents.segment.assets import SELFIE_ASSETS, ensure_selfie_tflite, selfie_tflite_path
from base.errors import ModelUnavailable


@pytest.mark.parametrize("variant", ["general", "landscape"])
def test_cached_model_has_the_pinned_hash(model_cache: Path, variant: str) -> None:
    path = ensure_selfie_tflite(model_cache, variant, download=False)  # type: ignore[arg-type]
    assert path == model_cache / "models" / SELFIE_ASSETS[variant].file_name  # type: ignore[index]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SELFIE_ASSETS[variant].sha256  # type: ignore[index]


def test_corrupt_cached_model_is_detected(model_cache: Path, tmp_path: Path) -> None:
    corrupt = selfie_tflite_path(tmp_path, "general")
    corrupt.parent.mkdir(parents=True)
    data = bytearray(selfie_tflite_path(model_cache, "general").read_bytes())
    data[1000] ^= 0xFF  # one flipped byte
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable, match=r"sha256.*corrupt"):
        ensure_selfie_tflite(tmp_path, "general", download=False)


def test_missing_model_says_how_to_fetch_it(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"backdrop models fetch"):
        ensure_selfie_tflite(tmp_path, "landscape", download=False)


def test_valid_cached_model_is_used_without_network(model_cache: Path, tmp_path: Path) -> None:
    cached = selfie_tflite_path(tmp_path, "general")
    cached.parent.mkdir(parents=True)
    shutil.copyfile(selfie_tflite_path(model_cache, "general"), cached)
    assert ensure_selfie_tflite(tmp_path, "general", download=False) == cached
