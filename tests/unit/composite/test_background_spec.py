"""The composite core opens the typed background (schemas.background); it parses no strings itself."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from agents.composite import open_background
from base.errors import InputNotFound
from schemas import parse_background
from schemas.background import Colour, Image, Video
from tests import clips


@pytest.mark.parametrize(
    ("spec", "rgb"), [("#102030", (16, 32, 48)), ("white", (255, 255, 255)), ("ForestGreen", (34, 139, 34))]
)
def test_colours_fill_the_frame(spec: str, rgb: tuple[int, int, int]) -> None:
    background = open_background(parse_background(spec), 4, 3, Fraction(25))
    pixels = background.frames(np.arange(1), np.zeros((1, 3, 4, 3), np.uint8))
    assert pixels is not None
    assert (pixels.reshape(-1, 3) == rgb).all()


def test_files_by_extension(tmp_path: Path) -> None:
    image = tmp_path / "beach.jpg"
    cv2.imwrite(str(image), np.full((4, 4, 3), 255, np.uint8))
    video = clips.make_clip(tmp_path / "waves.mp4", frames=3, fps=Fraction(25)).path
    for spec in (str(image), f"contain:{image}", str(video)):
        background = open_background(parse_background(spec), 8, 6, Fraction(25))
        try:
            assert background.frames(np.arange(2), np.zeros((2, 6, 8, 3), np.uint8)) is not None
        finally:
            background.close()
    assert parse_background(f"contain:{image}") == Image(ref=str(image), fit="contain")
    assert parse_background(str(video)) == Video(ref=str(video))


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match=r"beach\.png"):
        open_background(parse_background(str(tmp_path / "beach.png")), 8, 8, Fraction(25))


def test_an_object_in_the_store_must_be_fetched_first() -> None:
    stored = parse_background("s3://backdrop-uploads/bg/beach.png")
    with pytest.raises(InputNotFound, match=r"object store: fetch it"):
        open_background(stored, 8, 8, Fraction(25))


def test_a_spec_string_is_refused_not_guessed() -> None:
    with pytest.raises(AssertionError):
        open_background("white", 8, 8, Fraction(25))  # type: ignore[arg-type]
    assert open_background(Colour(rgb=(1, 2, 3)), 2, 2, Fraction(25)).transparent is False
