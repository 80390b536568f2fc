from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _default_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests see the settings defaults, whatever BACKDROP_* the caller's shell exports."""
    for name in os.environ:
        if name.startswith("BACKDROP_"):
            monkeypatch.delenv(name)
