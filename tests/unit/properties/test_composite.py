"""Composite core properties: any frame size and any alpha give RGB (or RGBA) frames of that size."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agents.composite import composite, open_background
from agents.composite.background import fit_image
from agents.encode import VideoWriter
from base.errors import InternalError
from schemas.background import MAX_BLUR_SIGMA, Blur, Colour, Video
from tests.unit.properties.strategies import (
    ONE_COLUMN,
    ONE_PIXEL,
    ONE_ROW,
    TWO_BY_TWO,
    WIDE_4K_PLUS_1,
    bounded,
    frame_sizes,
    frames,
    seeds,
)

ALPHAS = ("transparent", "opaque", "random", "speckle")
BACKGROUNDS = ("none", "still", "per_frame")


def _alpha(kind: str, seed: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if kind == "speckle":
        return np.where(rng.random(shape) < 0.5, 255, 0).astype(np.uint8)
    return np.full(shape, 255 if kind == "opaque" else 0, np.uint8)


@bounded(100)
@given(
    size=frame_sizes,
    count=st.integers(0, 4),
    alpha_kind=st.sampled_from(ALPHAS),
    background_kind=st.sampled_from(BACKGROUNDS),
    seed=seeds,
)
@example(size=TWO_BY_TWO, count=1, alpha_kind="speckle", background_kind="still", seed=0)
@example(size=ONE_PIXEL, count=1, alpha_kind="random", background_kind="none", seed=1)
@example(size=ONE_ROW, count=2, alpha_kind="opaque", background_kind="per_frame", seed=2)
@example(size=ONE_COLUMN, count=2, alpha_kind="transparent", background_kind="still", seed=3)
@example(size=WIDE_4K_PLUS_1, count=1, alpha_kind="random", background_kind="per_frame", seed=4)
@example(size=(5, 7), count=0, alpha_kind="random", background_kind="still", seed=5)  # an empty selection
def test_composite_keeps_the_frame_size_and_is_exact_at_solid_alpha(
    size: tuple[int, int], count: int, alpha_kind: str, background_kind: str, seed: int
) -> None:
    fg = frames(seed, count, size)  # [T, H, W, 3]
    alpha = _alpha(alpha_kind, seed, (count, *size))  # [T, H, W]
    backgrounds = {
        "none": None,
        "still": frames(seed + 2, 1, size)[0],
        "per_frame": frames(seed + 1, count, size),
    }
    background = backgrounds[background_kind]
    out = composite(fg, alpha, background)
    channels = 4 if background is None else 3
    assert out.shape == (count, *size, channels)
    assert out.dtype == np.uint8
    if background is None:
        np.testing.assert_array_equal(out[..., 3], alpha)
        np.testing.assert_array_equal(out[..., :3], fg)
        return
    behind = np.broadcast_to(background, fg.shape)
    np.testing.assert_array_equal(out[alpha == 255], fg[alpha == 255])
    np.testing.assert_array_equal(out[alpha == 0], behind[alpha == 0])
    low, high = np.minimum(fg, behind), np.maximum(fg, behind)
    assert ((out >= low) & (out <= high)).all()  # a mix never leaves the range of its two colours


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-frame 9×7 clip to loop behind the frames."""
    path = tmp_path_factory.mktemp("background") / "loop.mp4"
    with VideoWriter(path, 9, 7, time_base=Fraction(1, 25), fps=Fraction(25)) as writer:
        writer.write(frames(0, 3, (7, 9)), np.arange(3))
    return path


@bounded(50)
@given(
    size=frame_sizes,
    count=st.integers(0, 3),
    sigma=st.floats(0.0, MAX_BLUR_SIGMA, exclude_min=True),
    with_alpha=st.booleans(),
    fit=st.sampled_from(["cover", "contain"]),
    seed=seeds,
)
@example(size=ONE_PIXEL, count=1, sigma=MAX_BLUR_SIGMA, with_alpha=True, fit="cover", seed=0)
@example(size=TWO_BY_TWO, count=1, sigma=4.0, with_alpha=True, fit="contain", seed=1)
@example(size=ONE_ROW, count=1, sigma=1e-300, with_alpha=False, fit="cover", seed=2)
@example(size=ONE_COLUMN, count=2, sigma=3.9, with_alpha=True, fit="contain", seed=3)
@example(size=WIDE_4K_PLUS_1, count=1, sigma=20.0, with_alpha=True, fit="cover", seed=4)
@example(size=(5, 7), count=0, sigma=12.0, with_alpha=True, fit="cover", seed=5)  # an empty selection
def test_backgrounds_fit_any_frame(
    video: Path,
    size: tuple[int, int],
    count: int,
    sigma: float,
    with_alpha: bool,
    fit: Literal["cover", "contain"],
    seed: int,
) -> None:
    height, width = size
    source = frames(seed, count, size)
    alpha = _alpha("speckle", seed, (count, *size)) if with_alpha else None
    indices = np.arange(count) * 2  # past the clip's end too: the video loops
    for background in (Blur(sigma=sigma), Colour(rgb=(1, 2, 3)), Video(ref=str(video), fit=fit)):
        pixels = open_background(background, width, height, Fraction(25))
        try:
            out = pixels.frames(indices, source, alpha)
        finally:
            pixels.close()
        assert out is not None
        assert out.dtype == np.uint8
        assert out.shape in ((count, height, width, 3), (height, width, 3))
        assert composite(source, np.zeros((count, *size), np.uint8), out).shape == source.shape


@bounded(60)
@given(
    image=frame_sizes,
    target=frame_sizes,
    fit=st.sampled_from(["cover", "contain"]),
    seed=seeds,
)
@example(image=ONE_ROW, target=ONE_COLUMN, fit="cover", seed=0)
@example(image=ONE_COLUMN, target=ONE_ROW, fit="contain", seed=1)
@example(image=ONE_PIXEL, target=WIDE_4K_PLUS_1, fit="cover", seed=2)
@example(image=WIDE_4K_PLUS_1, target=TWO_BY_TWO, fit="contain", seed=3)
def test_image_backgrounds_fit_any_frame(
    image: tuple[int, int], target: tuple[int, int], fit: Literal["cover", "contain"], seed: int
) -> None:
    picture = frames(seed, 1, image)[0]
    fitted = fit_image(picture, target[1], target[0], fit)
    assert fitted.shape == (*target, 3)
    assert fitted.dtype == np.uint8


def test_caller_bugs_are_internal_errors_and_no_pixels_mix_to_none() -> None:
    fg, alpha = np.zeros((3, 4, 4, 3), np.uint8), np.zeros((3, 4, 4), np.uint8)
    with pytest.raises(InternalError, match="does not match"):
        composite(fg, alpha, np.zeros((2, 4, 4, 3), np.uint8))  # a background for fewer frames
    with pytest.raises(InternalError, match="uint8"):
        composite(fg, alpha.astype(np.float32), None)
    assert composite(fg[:, :0], alpha[:, :0], np.zeros((0, 4, 3), np.uint8)).shape == (3, 0, 4, 3)
