"""The compiled loops still work where numba can write no cache (a read-only install and home)."""

from __future__ import annotations

import numpy as np
import pytest
from numba.core import caching

from agents.compiled import jit


def test_without_a_writable_cache_the_loop_still_compiles(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # numba finds nowhere to write

    def doubled(values: np.ndarray) -> np.ndarray:
        return values * 2

    compiled = jit(doubled)
    np.testing.assert_array_equal(compiled(np.arange(3)), [0, 2, 4])
    assert "NUMBA_CACHE_DIR" in caplog.text
