"""Models by name: the built-ins, user models by path with their declared preprocessing, clear refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from agents.segment.backends import load_segmenter
from agents.segment.networks import export_onnx
from agents.segment.registry import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    builtin_registry,
    user_model_spec,
)
from base.errors import ModelUnavailable
from schemas.models import DEFAULT_MODEL

COLOUR = (200, 10, 50)  # RGB


class _Probe(nn.Module):
    """Its input's last and first channels, so the test sees the preprocessing: ``[B, 2, h, w]``."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x[:, 2:3], x[:, 0:1]], dim=1)


def _frames() -> np.ndarray:
    return np.broadcast_to(np.array(COLOUR, np.uint8), (3, 48, 64, 3)).copy()  # [T, H, W, 3]


def _expected(colour: int, network_channel: int) -> float:
    """Sigmoid of the value ``network_channel`` of the input holds; mean/std go by that channel."""
    normalised = (COLOUR[colour] / 255 - IMAGENET_MEAN[network_channel]) / IMAGENET_STD[network_channel]
    return float(1 / (1 + np.exp(-normalised)))


def test_default_is_the_general_selfie_model() -> None:
    spec = builtin_registry().get(DEFAULT_MODEL)
    assert (spec.name, spec.input_size, spec.variant) == ("selfie", (256, 256), "general")
    assert builtin_registry().get("selfie-landscape").input_size == (144, 256)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ModelUnavailable,
        match=r"unknown segmentation model 'u2net'; known models: isnet, selfie, selfie-landscape$",
    ):
        builtin_registry().get("u2net")


@pytest.mark.parametrize(("channel_order", "channel"), [("rgb", 0), ("bgr", 2)])
def test_user_onnx_model_runs_with_its_declared_preprocessing(
    tmp_path: Path, model_cache: Path, channel_order: str, channel: int
) -> None:
    path = tmp_path / "probe.onnx"
    export_onnx(_Probe(), (24, 32), path)
    registry = builtin_registry()
    # Output channel 1 is the network's first input channel, given as logits.
    registry.register_model(
        user_model_spec(
            "probe",
            path,
            (24, 32),
            channel_order=channel_order,
            output="logits",
            output_channel=1,  # type: ignore[arg-type]
        )
    )
    segmenter = load_segmenter("probe", cache_dir=model_cache, device="cpu", registry=registry, batch_size=2)
    assert segmenter.backend == "onnxruntime"
    probability = segmenter.predict(_frames())
    assert probability.shape == (3, 24, 32)
    np.testing.assert_allclose(probability, _expected(channel, 0), atol=1e-5)


def test_user_onnx_model_with_a_fixed_batch_of_one(tmp_path: Path, model_cache: Path) -> None:
    path = tmp_path / "probe.onnx"
    export_onnx(_Probe(), (24, 32), path, dynamic_batch=False)
    registry = builtin_registry()
    registry.register_model(user_model_spec("probe", path, (24, 32), output="logits", output_channel=1))
    probability = load_segmenter("probe", cache_dir=model_cache, registry=registry).predict(_frames())
    np.testing.assert_allclose(probability, _expected(0, 0), atol=1e-5)


def test_user_torch_export_model_runs_on_torch(tmp_path: Path, model_cache: Path) -> None:
    path = tmp_path / "probe.pt2"
    batch = torch.export.Dim("batch")
    program = torch.export.export(_Probe(), (torch.zeros(2, 3, 24, 32),), dynamic_shapes=({0: batch},))
    torch.export.save(program, path)
    registry = builtin_registry()
    registry.register_model(user_model_spec("probe", path, (24, 32), output="logits", output_channel=0))
    segmenter = load_segmenter("probe", cache_dir=model_cache, device="cpu", registry=registry)
    assert segmenter.backend == "torch"
    np.testing.assert_allclose(segmenter.predict(_frames()), _expected(2, 2), atol=1e-5)


def test_registering_a_taken_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "probe.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelUnavailable, match="already registered"):
        builtin_registry().register_model(user_model_spec("selfie", path, (24, 32)))


def test_a_missing_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist"):
        builtin_registry().register_model(user_model_spec("mine", tmp_path / "absent.onnx", (24, 32)))


def test_an_unknown_file_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"expected a \.onnx"):
        user_model_spec("mine", tmp_path / "model.h5", (24, 32))


def test_an_onnx_model_cannot_run_on_torch(tmp_path: Path, model_cache: Path) -> None:
    path = tmp_path / "probe.onnx"
    export_onnx(_Probe(), (24, 32), path)
    registry = builtin_registry()
    registry.register_model(user_model_spec("probe", path, (24, 32)))
    with pytest.raises(ModelUnavailable, match="onnxruntime or tensorrt"):
        load_segmenter("probe", "torch", "cpu", cache_dir=model_cache, registry=registry)
