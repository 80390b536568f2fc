from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from agents.encode import VideoWriter
from base.errors import InternalError, OutputError

RGB = np.zeros((2, 48, 64, 3), np.uint8)  # [T, H, W, 3]


def _writer(path: Path) -> VideoWriter:
    return VideoWriter(path, 64, 48, time_base=Fraction(1, 25), fps=Fraction(25))


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"\.avi"):
        _writer(tmp_path / "out.avi")


def test_unwritable_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="writable"):
        _writer(tmp_path / "file" / "out.mp4")


def test_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no frames"):
        _writer(tmp_path / "out.mp4").close()
    assert not (tmp_path / "out.mp4").exists()


def test_timestamps_must_increase(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "out.mp4")
    writer.write(RGB, np.array([0, 1]))
    with pytest.raises(InternalError, match="increase"):
        writer.write(RGB, np.array([1, 2]))
    writer.abort()


def test_failure_inside_the_block_removes_the_partial_file(tmp_path: Path) -> None:
    def crash_midway() -> None:
        with _writer(tmp_path / "out.mp4") as writer:
            writer.write(RGB, np.array([0, 1]))
            raise RuntimeError("the matte stage crashed")

    with pytest.raises(RuntimeError):
        crash_midway()
    assert not (tmp_path / "out.mp4").exists()


def test_wrong_frame_size(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "out.mp4")
    with pytest.raises(InternalError, match="32x48"):
        writer.write(np.zeros((1, 48, 32, 3), np.uint8), np.array([0]))
    writer.abort()
