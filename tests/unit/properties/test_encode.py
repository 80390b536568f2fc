"""Encode core properties: any frame size and chunking writes a file that decodes to the frames written.

4:2:0 formats (MP4, WebM) cannot hold an odd width or height: the writer pads one edge row or column
(see `agents.encode.writer._even`), so those decode one pixel larger; ProRes and PNG keep the exact size.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agents.encode import VideoWriter, output_format
from agents.encode.images import write_image, write_poster
from base.errors import InternalError, OutputError
from tests.unit.properties.strategies import (
    ONE_COLUMN,
    ONE_PIXEL,
    ONE_ROW,
    TWO_BY_TWO,
    bounded,
    frame_sizes,
    frames,
    seeds,
)

OUTPUTS = ("out.mp4", "out.webm", "out.mov", "frames/", "crop 50%/")  # a folder may hold a % of its own
WIDE_4K_PLUS_1 = (2, 4097)  # the matte's wide case, kept two rows high: encoding cost grows with area


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"{path} does not read back"
    return image


def _decoded(path: str) -> tuple[int, set[tuple[int, int]]]:
    """Frame count and the set of (H, W) sizes of what was written."""
    if path.endswith("/"):
        images = [_read(p) for p in sorted(Path(path).glob("*.png"))]
        return len(images), {image.shape[:2] for image in images}
    with av.open(path) as container:
        pictures = list(container.decode(video=0))
    return len(pictures), {(p.height, p.width) for p in pictures}


@bounded(60)
@given(
    size=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    name=st.sampled_from(OUTPUTS),
    alpha=st.booleans(),
    lengths=st.lists(st.integers(0, 3), min_size=1, max_size=4).filter(lambda x: sum(x) > 0),
    first_pts=st.sampled_from([0, 1, 1000]),  # a chunk of a clip starts where its clip left off
    seed=seeds,
)
@example(size=TWO_BY_TWO, name="out.mp4", alpha=False, lengths=[3], first_pts=1000, seed=0)
@example(size=ONE_PIXEL, name="out.webm", alpha=True, lengths=[1, 1], first_pts=0, seed=1)
@example(size=ONE_PIXEL, name="out.mov", alpha=True, lengths=[2], first_pts=1000, seed=2)
@example(
    size=ONE_ROW, name="out.mp4", alpha=False, lengths=[0, 2], first_pts=0, seed=3
)  # an empty chunk first
@example(size=ONE_COLUMN, name="out.mov", alpha=False, lengths=[1, 0, 1], first_pts=0, seed=4)
@example(size=WIDE_4K_PLUS_1, name="out.mp4", alpha=False, lengths=[1], first_pts=0, seed=5)
@example(size=WIDE_4K_PLUS_1, name="out.webm", alpha=True, lengths=[1], first_pts=0, seed=6)
@example(size=(3, 5), name="crop 50%/", alpha=True, lengths=[1, 2], first_pts=1000, seed=7)
def test_written_video_decodes_to_the_frames_written(
    size: tuple[int, int], name: str, alpha: bool, lengths: list[int], first_pts: int, seed: int
) -> None:
    fmt = output_format(name)
    channels = 4 if alpha and fmt.alpha_pix_fmt is not None else 3
    height, width = size
    clip = frames(seed, sum(lengths), size, channels)  # [T, H, W, C]
    pts = first_pts + np.arange(len(clip), dtype=np.int64) * 2  # every other tick of the 1/50 clock
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/{name}"
        with VideoWriter(path, width, height, time_base=Fraction(1, 50), fps=Fraction(25)) as writer:
            start = 0
            for length in lengths:
                writer.write(clip[start : start + length], pts[start : start + length])
                start += length
        count, sizes = _decoded(path)
    even = (height + height % 2, width + width % 2) if fmt.even_size else size
    assert (count, sizes) == (len(clip), {even})


@bounded(40)
@given(
    size=frame_sizes,
    suffix=st.sampled_from([".png", ".jpg", ".webp"]),
    alpha=st.booleans(),
    seed=seeds,
)
@example(size=ONE_PIXEL, suffix=".webp", alpha=True, seed=0)
@example(size=ONE_ROW, suffix=".jpg", alpha=False, seed=1)
@example(size=ONE_COLUMN, suffix=".png", alpha=True, seed=2)
@example(size=(17, 4097), suffix=".jpg", alpha=True, seed=3)  # the poster of a wide transparent frame
def test_stills_and_posters_read_back_at_their_size(
    size: tuple[int, int], suffix: str, alpha: bool, seed: int
) -> None:
    channels = 4 if alpha and suffix != ".jpg" else 3
    image = frames(seed, 1, size, 4 if alpha else 3)[0]
    with tempfile.TemporaryDirectory() as folder:
        still, poster = Path(folder) / f"still{suffix}", Path(folder) / "poster.jpg"
        write_image(still, image[..., :channels])
        width, height = write_poster(poster, image, max_width=64)
        read, small = _read(still), _read(poster)
    assert read.shape[:2] == size
    if channels == 4 and read.shape[2] == 3:  # WebP drops an alpha that is opaque everywhere
        assert (image[..., 3] == 255).all()
    assert small.shape[:2] == (height, width)
    assert width == min(size[1], 64)


def test_stills_without_pixels_or_too_wide_for_webp_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InternalError, match="with pixels"):
        write_image(tmp_path / "empty.png", np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(OutputError, match=r"\.png instead"):
        write_image(tmp_path / "wide.webp", np.zeros((1, 16384, 3), np.uint8))
