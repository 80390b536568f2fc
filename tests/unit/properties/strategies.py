"""Shared strategies for the property tests: frame sizes, frames and probability maps, degenerate ones too.

Arrays are drawn from a seeded generator rather than element by element: a 4097-wide frame stays cheap to
generate, and a failing example still replays exactly from its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

F = TypeVar("F", bound=Callable[..., Any])

# Named so each can be pinned with @example: hypothesis may never draw a 1-pixel edge or a 4K+1 width.
TWO_BY_TWO = (2, 2)
ONE_PIXEL = (1, 1)
ONE_ROW = (1, 37)  # [H, W]
ONE_COLUMN = (37, 1)
WIDE_4K_PLUS_1 = (17, 4097)  # one row of 16-pixel tiles plus a ragged strip on both edges

MAP_KINDS = ("background", "foreground", "speckle", "one_pixel", "one_hole", "nan", "outside", "random")

# (H, W): small frames, and strips with a long side past the matte's 320-pixel working scale, so the
# shrinking, the tile upsampling and odd scale ratios are exercised without paying for large areas
frame_sizes = st.one_of(
    st.tuples(st.integers(1, 80), st.integers(1, 80)),
    st.tuples(st.integers(1, 24), st.integers(300, 700)),
    st.tuples(st.integers(300, 700), st.integers(1, 24)),
)
map_sizes = st.tuples(st.integers(1, 40), st.integers(1, 40))  # a model's output (h, w)
seeds = st.integers(0, 2**32 - 1)


def bounded(examples: int) -> Callable[[F], F]:
    """Per-test settings: a fixed budget, no deadline (2 shared cores), no example database in the tree."""
    return settings(max_examples=examples, deadline=None, database=None)


def frames(seed: int, count: int, size: tuple[int, int], channels: int = 3) -> np.ndarray:
    """[T, H, W, C] uint8: noise, flat, black or white, chosen by the seed."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(4)
    shape = (count, *size, channels)
    if kind == 0:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    value = (int(rng.integers(256)), 0, 255)[kind - 1]
    return np.full(shape, value, np.uint8)


def probability_map(kind: str, seed: int, size: tuple[int, int]) -> np.ndarray:
    """One model output [h, w] float32 of the given kind; 'nan' and 'outside' break the [0, 1] contract."""
    rng = np.random.default_rng(seed)
    if kind == "background":
        return np.zeros(size, np.float32)
    if kind == "foreground":
        return np.ones(size, np.float32)
    if kind == "speckle":
        return (rng.random(size) < 0.5).astype(np.float32)
    if kind in ("one_pixel", "one_hole"):
        # one pixel off a uniform map: a faint one leaves tiles that need work yet get only exact 0 or 255
        # alpha (the 768×432 crash), a strong one a small partial region
        prob = np.full(size, 0.0 if kind == "one_pixel" else 1.0, np.float32)
        odd = (0.05, 0.5, 1.0) if kind == "one_pixel" else (0.95, 0.5, 0.0)
        prob[rng.integers(size[0]), rng.integers(size[1])] = rng.choice(odd)
        return prob
    if kind == "nan":
        prob = rng.random(size, dtype=np.float32)
        prob[rng.random(size) < 0.3] = np.nan
        prob.flat[0] = np.nan  # at least one, however small the map
        return prob
    if kind == "outside":
        values = np.array([-np.inf, -3.0, -1e-3, 1.001, 7.0, np.inf], np.float32)
        return rng.choice(values, size).astype(np.float32)
    return rng.random(size, dtype=np.float32)


def chunk_lengths(total: int, seed: int) -> list[int]:
    """Split ``total`` frames into chunks of random lengths, 1-frame chunks often among them."""
    rng = np.random.default_rng(seed)
    lengths = []
    while total > 0:
        length = min(total, int(rng.choice([1, 1, 2, 3, 5])))
        lengths.append(length)
        total -= length
    return lengths
