"""The matte's per-pixel formulas, compiled: alpha from the guided filter's coefficients, the foreground
colour correction, and the full-resolution pass that applies both in one walk over the pixels that need
arithmetic.

Every compiled loop that uses `_alpha_level` or `_corrected_colour` lives in this file: numba's cache
notices a change only in the file of the function it compiled, not in the files of the functions it calls.
"""

from __future__ import annotations

import numpy as np

from agents.compiled import jit


@jit
def _alpha_level(value: np.float32, low: np.float32, gain: np.float32) -> np.uint8:  # pragma: no cover
    """A guided-filter value as uint8 alpha: at or below ``low`` 0, at or above ``low + 255 / gain`` 255.

    Near-certain values become exact 0 and 255, which later stages can skip.
    """
    level = (value - low) * gain + np.float32(0.5)
    return np.uint8(min(max(level, np.float32(0.0)), np.float32(255.0)))


@jit
def _corrected_colour(
    pixel: np.float32, fore: np.float32, back: np.float32, a: np.float32
) -> np.float32:  # pragma: no cover - compiled
    """One channel of a partial pixel's foreground, from the local means F̄ and B̄ and alpha 0..1, clipped
    to 0..255: F = F̄ + α (I − α F̄ − (1 − α) B̄), exact where the means are right, I where α = 1."""
    value = (pixel - ((fore - back) * a + back)) * a + fore
    return min(max(value, np.float32(0.0)), np.float32(255.0))


@jit
def alpha_of(
    coef: np.ndarray, image: np.ndarray, low: np.float32, gain: np.float32
) -> np.ndarray:  # pragma: no cover - compiled
    """a · rgb + b per pixel of a uint8 RGB image [h, w, 3], as uint8 alpha (`_alpha_level`): [h, w]."""
    height, width = image.shape[:2]
    out = np.empty((height, width), np.uint8)
    scale = np.float32(1 / 255)
    for i in range(height):
        for j in range(width):
            c = coef[i, j]
            value = (
                c[0] * np.float32(image[i, j, 0])
                + c[1] * np.float32(image[i, j, 1])
                + c[2] * np.float32(image[i, j, 2])
            ) * scale + c[3]
            out[i, j] = _alpha_level(value, low, gain)
    return out


@jit
def corrected(colours: np.ndarray, means: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Colours RGB 0..255 with alpha 0..1 [h, w, 4], corrected by local means [h, w, 6]: [h, w, 4]."""
    height, width = colours.shape[:2]
    out = np.empty((height, width, 4), np.float32)
    for i in range(height):
        for j in range(width):
            a = colours[i, j, 3]
            for c in range(3):
                out[i, j, c] = _corrected_colour(colours[i, j, c], means[i, j, c], means[i, j, 3 + c], a)
            out[i, j, 3] = a
    return out


@jit
def _blend_rows(
    maps: np.ndarray,
    r0: int,
    r1: int,
    fy: np.float32,
    first: int,
    last: int,
    y: int,
    row: np.ndarray,
    blended_for: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Columns first..last of working-scale rows r0 and r1 of ``maps`` [h, w, C], blended with weight
    ``fy`` into ``row`` [w, C], each column once for full-resolution row ``y``."""
    for j in range(first, last + 1):
        if blended_for[j] != y:
            for k in range(maps.shape[2]):
                row[j, k] = maps[r0, j, k] + fy * (maps[r1, j, k] - maps[r0, j, k])
            blended_for[j] = y


@jit
def apply_full(
    frame: np.ndarray,
    coef: np.ndarray,
    means: np.ndarray,
    active: np.ndarray,
    fill: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray, np.ndarray],
    tile: int,
    low: np.float32,
    gain: np.float32,
    alpha: np.ndarray,
    fg: np.ndarray,
) -> None:  # pragma: no cover - compiled; tests/unit/matte check it against OpenCV's interpolation
    """Alpha [H, W] uint8 everywhere, and foreground colour [H, W, 3] uint8 where alpha is partial.

    ``fg`` must hold the frame already: where alpha is 0 or 255 the foreground colour is the frame's.
    frame: [H, W, 3] uint8; coef: [h, w, 4] guided-filter coefficients on 0..1 colours; means: [h, w, 6]
    local foreground then background colours 0..255; active, fill: [ceil(H/tile), ceil(W/tile)], the
    tiles that need per-pixel arithmetic and the alpha of the others; rows, cols: bilinear (low index,
    high index, weight of the high one) per full-resolution row and column.
    """
    height, width = alpha.shape
    r_lo, r_hi, r_w = rows
    c_lo, c_hi, c_w = cols
    small_w = coef.shape[1]
    # a full-resolution row's two working-scale rows blended vertically, column by column as tiles first
    # need them (blended_for: the row each column was blended for): the gathers then happen per
    # working-scale column, not per pixel, and only for columns the active tiles read
    row_coef = np.empty((small_w, 4), np.float32)
    row_means = np.empty((small_w, 6), np.float32)
    coef_for = np.full(small_w, -1, np.int64)
    means_for = np.full(small_w, -1, np.int64)
    scale = np.float32(1 / 255)
    for y in range(height):
        ty = y // tile
        r0, r1, fy = r_lo[y], r_hi[y], r_w[y]
        for tx in range(active.shape[1]):
            x0, x1 = tx * tile, min(width, (tx + 1) * tile)
            if not active[ty, tx]:
                alpha[y, x0:x1] = fill[ty, tx]
                continue
            _blend_rows(coef, r0, r1, fy, c_lo[x0], c_hi[x1 - 1], y, row_coef, coef_for)
            partial = False
            for x in range(x0, x1):
                c0, c1, fx = c_lo[x], c_hi[x], c_w[x]
                lo, hi = row_coef[c0], row_coef[c1]
                value = (
                    (lo[0] + fx * (hi[0] - lo[0])) * np.float32(frame[y, x, 0])
                    + (lo[1] + fx * (hi[1] - lo[1])) * np.float32(frame[y, x, 1])
                    + (lo[2] + fx * (hi[2] - lo[2])) * np.float32(frame[y, x, 2])
                ) * scale + (lo[3] + fx * (hi[3] - lo[3]))
                a = _alpha_level(value, low, gain)
                alpha[y, x] = a
                partial |= a != 0 and a != 255
            if not partial:  # where alpha is 0 or 255, the foreground colour is the frame's (already in fg)
                continue
            _blend_rows(means, r0, r1, fy, c_lo[x0], c_hi[x1 - 1], y, row_means, means_for)
            for x in range(x0, x1):
                a = alpha[y, x]
                if a == 0 or a == 255:
                    continue
                c0, c1, fx = c_lo[x], c_hi[x], c_w[x]
                weight = np.float32(a) * scale
                m0, m1 = row_means[c0], row_means[c1]
                for c in range(3):
                    fore = m0[c] + fx * (m1[c] - m0[c])
                    back = m0[3 + c] + fx * (m1[3 + c] - m0[3 + c])
                    colour = _corrected_colour(np.float32(frame[y, x, c]), fore, back, weight)
                    fg[y, x, c] = np.uint8(colour + np.float32(0.5))


@jit
def tile_activity(
    lows: np.ndarray,
    highs: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray, np.ndarray],
    tile: int,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Per full-resolution tile, whether it needs per-pixel arithmetic, and the alpha of one that does not.

    lows, highs: [h, w] bool, where the coefficients give alpha 0 (or 1) for any colour. A tile is skipped
    only if every working-scale pixel it reads agrees: all low (alpha 0) or all high (alpha 255).
    """
    r_lo, r_hi, _ = rows
    c_lo, c_hi, _ = cols
    tile_rows = (len(r_lo) + tile - 1) // tile
    tile_cols = (len(c_lo) + tile - 1) // tile
    active = np.zeros((tile_rows, tile_cols), np.bool_)
    fill = np.zeros((tile_rows, tile_cols), np.uint8)
    for ty in range(tile_rows):
        y_first, y_last = r_lo[ty * tile], r_hi[min(len(r_lo), (ty + 1) * tile) - 1]
        for tx in range(tile_cols):
            x_first, x_last = c_lo[tx * tile], c_hi[min(len(c_lo), (tx + 1) * tile) - 1]
            any_low = any_high = mixed = False
            for i in range(y_first, y_last + 1):
                for j in range(x_first, x_last + 1):
                    if lows[i, j]:
                        any_low = True
                    elif highs[i, j]:
                        any_high = True
                    else:
                        mixed = True
            active[ty, tx] = mixed or (any_low and any_high)
            fill[ty, tx] = 255 if any_high and not active[ty, tx] else 0
    return active, fill


def bilinear_table(full: int, small: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per full-resolution index: the two working-scale indices and the weight of the second, with
    half-pixel centres as OpenCV's INTER_LINEAR."""
    src = np.clip((np.arange(full) + 0.5) * (small / full) - 0.5, 0.0, small - 1)
    low = np.floor(src).astype(np.int64)
    high = np.minimum(low + 1, small - 1)
    return low, high, (src - low).astype(np.float32)
