"""Bilinear upsampling of working-scale maps onto chosen full-resolution tiles only.

Upsampling whole frames of float coefficients costs more in memory traffic than everything else in the
stage; the alpha band covers a small share of the tiles, so only those tiles are interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def _weights(full: int, small: int) -> np.ndarray:
    """Dense bilinear weights [full, small] with half-pixel centres, as OpenCV's INTER_LINEAR."""
    src = np.clip((np.arange(full) + 0.5) * (small / full) - 0.5, 0.0, small - 1)
    low = np.floor(src).astype(np.int64)
    high = np.minimum(low + 1, small - 1)
    frac = (src - low).astype(np.float32)
    matrix = np.zeros((full, small), np.float32)
    rows = np.arange(full)
    matrix[rows, low] += 1.0 - frac
    matrix[rows, high] += frac
    return matrix


def _per_tile(matrix: np.ndarray, tile: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per tile: its rows of the weights restricted to a window [start, start + span) of small indices."""
    count = matrix.shape[0] // tile
    small = matrix.shape[1]
    blocks = matrix[: count * tile].reshape(count, tile, small)
    used = np.asarray(blocks.any(axis=1))  # [count, small] bool
    first = used.argmax(axis=1)
    last = small - 1 - used[:, ::-1].argmax(axis=1)
    span = int((last - first).max(initial=0)) + 1
    start = np.minimum(first, small - span)
    window = start[:, None] + np.arange(span)  # [count, span]
    return np.take_along_axis(blocks, window[:, None, :], axis=2), start, span  # [count, tile, span]


@dataclass(frozen=True)
class TileUpsampler:
    """Interpolation weights for one (full size, working size, tile) combination."""

    tile: int
    rows_w: np.ndarray  # [rows, tile, span_y] float32
    rows_start: np.ndarray  # [rows] int
    cols_w: np.ndarray  # [cols, tile, span_x] float32
    cols_start: np.ndarray  # [cols] int
    full_rows: np.ndarray  # [H, h] float32, for the ragged strips
    full_cols: np.ndarray  # [W, w] float32

    @classmethod
    def build(cls, full: tuple[int, int], small: tuple[int, int], tile: int) -> TileUpsampler:
        """Weights from (H, W) to (h, w) for tiles of side `tile`."""
        full_rows, full_cols = _weights(full[0], small[0]), _weights(full[1], small[1])
        rows_w, rows_start, _ = _per_tile(full_rows, tile)
        cols_w, cols_start, _ = _per_tile(full_cols, tile)
        return cls(tile, rows_w, rows_start, cols_w, cols_start, full_rows, full_cols)

    def any_read(self, mask: np.ndarray) -> np.ndarray:
        """Per tile, whether any working-scale pixel it reads is set in `mask` [h, w] bool: [rows, cols]."""
        span = (self.cols_w.shape[2], self.rows_w.shape[2])
        # a dilation anchored at the top-left corner takes the maximum over exactly each tile's window
        grown = cv2.dilate(mask.view(np.uint8), np.ones(span[::-1], np.uint8), anchor=(0, 0))
        sampled: np.ndarray = grown[np.ix_(self.rows_start, self.cols_start)] > 0
        return sampled

    def tiles(self, small: np.ndarray, ti: np.ndarray, tj: np.ndarray) -> np.ndarray:
        """Bilinear upsample of planar `small` [C, h, w] on the given tiles: [C, n, tile, tile] float32."""
        ys = self.rows_start[ti, None] + np.arange(self.rows_w.shape[2])  # [n, span_y]
        xs = self.cols_start[tj, None] + np.arange(self.cols_w.shape[2])  # [n, span_x]
        patch = small[:, ys[:, :, None], xs[:, None, :]]  # [C, n, span_y, span_x]
        down = np.matmul(self.rows_w[ti], patch)  # [C, n, tile, span_x]
        up: np.ndarray = np.matmul(down, self.cols_w[tj].transpose(0, 2, 1))
        return up  # [C, n, tile, tile]

    def strip(self, small: np.ndarray, rs: slice, cs: slice) -> np.ndarray:
        """Bilinear upsample of planar `small` [C, h, w] on a full-resolution rectangle: [C, r, c] float32."""
        up: np.ndarray = np.matmul(np.matmul(self.full_rows[rs], small), self.full_cols[cs].T)
        return up
