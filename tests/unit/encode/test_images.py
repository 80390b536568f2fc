from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from agents.encode import write_image, write_poster
from base.errors import OutputError
from tests import clips


def _read(path: Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    assert image is not None, path
    return image


def test_png_keeps_alpha(tmp_path: Path) -> None:
    image = clips.index_frame(3, 64, 48, alpha=True)
    write_image(tmp_path / "cut.png", image)
    back = cv2.cvtColor(_read(tmp_path / "cut.png", cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    assert np.array_equal(back, image)


def test_jpeg_refuses_alpha(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="transparency"):
        write_image(tmp_path / "cut.jpg", clips.index_frame(0, 64, 48, alpha=True))


def test_jpeg_of_rgb(tmp_path: Path) -> None:
    write_image(tmp_path / "cut.jpg", clips.index_frame(5, 64, 48))
    back = cv2.cvtColor(_read(tmp_path / "cut.jpg"), cv2.COLOR_BGR2RGB)
    assert clips.frame_index(back) == 5


def test_poster_is_scaled_down(tmp_path: Path) -> None:
    size = write_poster(tmp_path / "poster.jpg", clips.index_frame(2, 160, 90), max_width=80)
    back = _read(tmp_path / "poster.jpg")
    assert size == (80, 45) == (back.shape[1], back.shape[0])


def test_poster_of_transparent_frame_is_on_white(tmp_path: Path) -> None:
    frame = np.zeros((48, 64, 4), np.uint8)  # fully transparent
    write_poster(tmp_path / "poster.jpg", frame)
    assert _read(tmp_path / "poster.jpg").min() >= 250


def test_unknown_still_type(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"\.png"):
        write_image(tmp_path / "cut.gif", clips.index_frame(0, 64, 48))
