"""Segment pre/post-processing properties: any frame size in, any model output to a probability in [0, 1]."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from agents.segment.preprocess import to_network_input, to_probability
from agents.segment.registry import SELFIE, ModelSpec
from tests.unit.properties.strategies import (
    ONE_COLUMN,
    ONE_PIXEL,
    ONE_ROW,
    TWO_BY_TWO,
    WIDE_4K_PLUS_1,
    bounded,
    frame_sizes,
    frames,
    map_sizes,
    seeds,
)

RAW = np.array([np.nan, np.inf, -np.inf, -1e4, -1.0, 0.0, 0.5, 1.0, 1e4], np.float32)


@bounded(100)
@given(
    output=st.sampled_from(["probability", "logits", "softmax"]),
    raw_size=map_sizes,
    count=st.integers(0, 2),
    seed=seeds,
)
@example(output="logits", raw_size=(1, 1), count=1, seed=0)
@example(output="softmax", raw_size=(40, 3), count=2, seed=1)
def test_any_model_output_becomes_a_probability(
    output: Literal["probability", "logits", "softmax"], raw_size: tuple[int, int], count: int, seed: int
) -> None:
    # NaN, ±inf and huge logits are what an fp16 model emits when it overflows
    spec = ModelSpec("m", (8, 6), "onnx", path=Path("m.onnx"), output=output, output_channel=1)
    raw = np.random.default_rng(seed).choice(RAW, (count, 2, *raw_size))
    probability = to_probability(raw, spec)
    assert probability.shape == (count, 8, 6)
    assert probability.dtype == np.float32
    assert ((probability >= 0) & (probability <= 1)).all()  # False for NaN


@bounded(50)
@given(size=frame_sizes, count=st.integers(0, 2), area=st.booleans(), seed=seeds)
@example(size=TWO_BY_TWO, count=1, area=False, seed=0)
@example(size=ONE_PIXEL, count=1, area=True, seed=1)
@example(size=ONE_ROW, count=1, area=False, seed=2)
@example(size=ONE_COLUMN, count=1, area=True, seed=3)
@example(size=WIDE_4K_PLUS_1, count=1, area=False, seed=4)
def test_any_frame_size_becomes_network_input(
    size: tuple[int, int], count: int, area: bool, seed: int
) -> None:
    spec = ModelSpec("m", (8, 6), "onnx", path=Path("m.onnx")) if area else SELFIE
    network_input = to_network_input(frames(seed, count, size), spec)
    assert network_input.shape == (count, 3, *spec.input_size)
    assert network_input.dtype == np.float32
    assert np.isfinite(network_input).all()
