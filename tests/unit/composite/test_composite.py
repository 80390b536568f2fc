from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from agents.composite import composite, open_background
from agents.composite.background import fit_image
from base.errors import CorruptInput, InternalError
from schemas.background import Blur, Image, Transparent


def _frames(value: int, t: int = 2, h: int = 6, w: int = 8) -> np.ndarray:
    return np.full((t, h, w, 3), value, np.uint8)


def test_compositing_equation() -> None:
    fg, bg = _frames(200), _frames(100)[0]
    alpha = np.zeros((2, 6, 8), np.uint8)
    alpha[:, :, :3], alpha[:, :, 3:5] = 255, 128
    out = composite(fg, alpha, bg)
    assert (out[:, :, :3] == 200).all()  # exact foreground
    assert (out[:, :, 5:] == 100).all()  # exact background
    assert np.abs(out[:, :, 3:5].astype(int) - 150).max() <= 1  # 200·128/255 + 100·127/255 ≈ 150.2


def test_every_case_equals_opencvs_saturating_multiply_and_add() -> None:
    # all 256 × 256 × 256 (foreground, background, alpha) values, against the two-multiplies-and-an-add
    # form in OpenCV that the compiled loop replaced: the same rounding of each term, the same saturation
    values = np.arange(256, dtype=np.uint8)
    fg, bg, alpha = (a.reshape(1, 256, 65536) for a in np.meshgrid(values, values, values, indexing="ij"))
    fg3, bg3 = np.repeat(fg[..., None], 3, axis=-1), np.repeat(bg[..., None], 3, axis=-1)
    alpha3 = np.repeat(alpha[0][..., None], 3, axis=-1)
    expected = cv2.add(
        cv2.multiply(fg3[0], alpha3, scale=1 / 255), cv2.multiply(bg3[0], 255 - alpha3, scale=1 / 255)
    )
    np.testing.assert_array_equal(composite(fg3, alpha, bg3)[0], expected)


def test_per_frame_backgrounds() -> None:
    bg = np.stack([_frames(10)[0], _frames(20)[0]])
    out = composite(_frames(0), np.zeros((2, 6, 8), np.uint8), bg)
    assert out[0].max() == 10
    assert out[1].min() == 20


def test_transparent_keeps_alpha_as_a_fourth_channel() -> None:
    alpha = np.full((2, 6, 8), 77, np.uint8)
    out = composite(_frames(5), alpha, None)
    assert out.shape == (2, 6, 8, 4)
    assert (out[..., 3] == 77).all()
    assert (out[..., :3] == 5).all()


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(InternalError, match="alpha"):
        composite(_frames(0), np.zeros((2, 6, 7), np.uint8), None)
    with pytest.raises(InternalError, match="background"):
        composite(_frames(0), np.zeros((2, 6, 8), np.uint8), np.zeros((6, 7, 3), np.uint8))


def test_fit_cover_fills_and_contain_letterboxes() -> None:
    wide = np.full((10, 40, 3), 255, np.uint8)
    cover = fit_image(wide, 16, 16, "cover")
    contain = fit_image(wide, 16, 16, "contain")
    assert cover.shape == contain.shape == (16, 16, 3)
    assert cover.min() == 255
    assert contain[0].max() == 0  # black bar on top
    assert contain[8].min() == 255


def test_image_background_is_fitted_once(tmp_path: Path) -> None:
    path = tmp_path / "bg.png"
    image = np.zeros((30, 60, 3), np.uint8)
    image[:, :, 2] = 255  # blue, RGB
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    background = open_background(Image(ref=str(path)), 16, 12, Fraction(25))
    pixels = background.frames(np.arange(2), _frames(0, h=12, w=16))
    assert pixels is not None
    assert pixels.shape == (12, 16, 3)
    assert (pixels[..., 2] == 255).all()
    assert pixels[..., :2].max() == 0


def test_blur_background_blurs_the_source() -> None:
    source = np.zeros((1, 64, 64, 3), np.uint8)
    source[0, :, 32:] = 255
    background = open_background(Blur(sigma=8.0), 64, 64, Fraction(25))
    pixels = background.frames(np.arange(1), source)
    assert pixels is not None
    assert 0 < pixels[0, 32, 30, 0] < 255  # the hard edge is now a ramp
    assert background.frames(np.arange(1), source) is not None


def test_unreadable_background_image(tmp_path: Path) -> None:
    path = tmp_path / "bg.png"
    path.write_bytes(b"not a png")
    with pytest.raises(CorruptInput, match="cannot read background image"):
        open_background(Image(ref=str(path)), 8, 8, Fraction(25))


def test_transparent_background_has_no_pixels() -> None:
    background = open_background(Transparent(), 8, 8, Fraction(25))
    assert background.transparent
    assert background.frames(np.arange(1), _frames(0, 1, 8, 8)) is None


def test_blur_leaves_the_person_out_of_the_background() -> None:
    source = np.zeros((1, 64, 64, 3), np.uint8)
    source[0, 16:48, 16:48] = 250  # a bright person on a black background
    alpha = np.zeros((1, 64, 64), np.uint8)
    alpha[0, 16:48, 16:48] = 255
    background = open_background(Blur(sigma=8.0), 64, 64, Fraction(25))
    plain = background.frames(np.arange(1), source)
    aware = background.frames(np.arange(1), source, alpha)
    assert plain is not None
    assert aware is not None
    # just outside the person: the plain blur glows, the matte-aware one stays background-dark
    assert plain[0, 32, 10].max() > 40
    assert aware[0, 32, 10].max() < 10
