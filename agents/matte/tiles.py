"""Views of a full-resolution image as square tiles, and the strips that whole tiles leave over."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def tiles_of(image: np.ndarray, tile: int) -> np.ndarray:
    """A writable view [rows, tile, cols, tile, ...] of the part of `image` that whole tiles cover."""
    rows, cols = image.shape[0] // tile, image.shape[1] // tile
    # splitting axes never needs a copy, so writes through this view land in `image`
    return image[: rows * tile, : cols * tile].reshape(rows, tile, cols, tile, *image.shape[2:])


def ragged(shape: Sequence[int], tile: int) -> list[tuple[slice, slice]]:
    """The bottom and right strips that whole tiles leave uncovered."""
    rows, cols = shape[0] // tile * tile, shape[1] // tile * tile
    strips = []
    if rows < shape[0]:
        strips.append((slice(rows, None), slice(None)))
    if cols < shape[1] and rows > 0:
        strips.append((slice(0, rows), slice(cols, None)))
    return strips
