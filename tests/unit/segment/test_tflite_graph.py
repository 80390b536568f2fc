"""The .tflite reader and the torch port's building blocks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from agents.segment.assets import selfie_tflite_path
from agents.segment.tflite_graph import read_tflite
from agents.segment.tflite_torch import TfliteNet, _same_padding
from base.errors import ModelUnavailable


@pytest.mark.parametrize(("variant", "size"), [("general", (256, 256)), ("landscape", (144, 256))])
def test_reader_sees_the_whole_network(model_cache: Path, variant: str, size: tuple[int, int]) -> None:
    graph = read_tflite(selfie_tflite_path(model_cache, variant))  # type: ignore[arg-type]
    assert graph.input_size == size
    assert graph.parameter_count() == 106_401
    kinds = {op.kind for op in graph.ops}
    assert "DEQUANTIZE" not in kinds  # folded into float32 constants
    assert "CUSTOM:Convolution2DTransposeBias" in kinds
    assert graph.ops[-1].kind == "LOGISTIC"


def test_tensorflow_same_padding_puts_the_odd_pixel_after() -> None:
    assert _same_padding(256, 3, 2, 1) == (0, 1)
    assert _same_padding(32, 5, 2, 1) == (1, 2)
    assert _same_padding(64, 3, 1, 1) == (1, 1)
    assert _same_padding(9, 5, 2, 1) == (2, 2)


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.trace.*` is deprecated:FutureWarning")
def test_port_traces_to_torchscript_and_exports(model_cache: Path) -> None:
    net = TfliteNet(read_tflite(selfie_tflite_path(model_cache, "landscape"))).eval()
    x = torch.rand(2, 3, 144, 256)
    with torch.inference_mode():
        expected = net(x)
        traced = torch.jit.trace(net, x[:1])
        assert torch.allclose(traced(x), expected, atol=1e-6)
    exported = torch.export.export(net, (x,)).module()
    assert torch.allclose(exported(x), expected, atol=1e-6)
    assert expected.shape == (2, 1, 144, 256)


def test_a_file_that_is_not_tflite_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelUnavailable):
        read_tflite(junk)
