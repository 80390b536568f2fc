from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from agents.composite import Blur, Colour, ImageFile, Transparent, VideoFile, parse_background
from backdrop.errors import InputError, InputNotFound


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("#102030", Colour((16, 32, 48))),
        ("white", Colour((255, 255, 255))),
        ("ForestGreen", Colour((34, 139, 34))),
        ("transparent", Transparent()),
        ("blur", Blur(12.0)),
        ("blur:3.5", Blur(3.5)),
    ],
)
def test_plain_specs(spec: str, expected: object) -> None:
    assert parse_background(spec) == expected


def test_files_by_extension(tmp_path: Path) -> None:
    image, video = tmp_path / "beach.jpg", tmp_path / "waves.mp4"
    cv2.imwrite(str(image), np.zeros((4, 4, 3), np.uint8))
    video.write_bytes(b"")
    assert parse_background(str(image)) == ImageFile(image, "cover")
    assert parse_background(f"contain:{image}") == ImageFile(image, "contain")
    assert parse_background(str(video)) == VideoFile(video)


@pytest.mark.parametrize("spec", ["no-such-colour", "blur:fast", "blur:0", "#12345"])
def test_bad_specs_say_what_is_accepted(spec: str) -> None:
    with pytest.raises(InputError, match=r"blur|#RRGGBB"):
        parse_background(spec)


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match=r"beach\.png"):
        parse_background(str(tmp_path / "beach.png"))
