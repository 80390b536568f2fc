"""A still's size read from its header, without decoding: how a decompression bomb is refused cheaply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from agents.extract import Limits, probe, read_image, validate
from agents.extract.still_header import declared_size
from base.errors import LimitExceeded
from tests import clips, corpus


@pytest.mark.parametrize(
    ("name", "options", "container"),
    [
        ("a.png", {}, "png_pipe"),
        ("a.jpg", {"exif": Image.Exif()}, "jpeg_pipe"),
        ("a.jpg", {"progressive": True}, "jpeg_pipe"),
        ("lossy.webp", {"quality": 80}, "webp_pipe"),
        ("lossless.webp", {"lossless": True}, "webp_pipe"),
        ("extended.webp", {"exif": b"Exif\x00\x00"}, "webp_pipe"),
    ],
)
def test_declared_size(tmp_path: Path, name: str, options: dict[str, Any], container: str) -> None:
    path = tmp_path / name
    Image.fromarray(clips.index_frame(0, 70, 38)).save(path, **options)
    assert declared_size(path) == (container, 70, 38)


def test_not_a_still(tmp_path: Path) -> None:
    assert declared_size(clips.make_clip(tmp_path / "clip.mp4", frames=2).path) is None
    assert declared_size(clips.make_not_media(tmp_path / "list.png")) is None


def test_a_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(corpus.png_bomb(16_000))
    info = probe(bomb)
    assert (info.width, info.height, info.is_image) == (16_000, 16_000, True)
    with pytest.raises(LimitExceeded, match="width 16000"):
        validate(info, Limits())


def test_a_still_over_8k_still_decodes_when_the_limits_allow_it(tmp_path: Path) -> None:
    path = tmp_path / "panorama.png"
    Image.fromarray(np.zeros((600, 60_000), np.uint8)).save(path)  # 36 Mpixel: described from its header
    info = probe(path)
    validate(info, Limits(max_width=60_000))
    assert read_image(path).shape == (1, 600, 60_000, 3)
