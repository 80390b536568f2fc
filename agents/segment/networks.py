"""A model's network: the torch port of the selfie .tflite, a user's TorchScript, or an ONNX file."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from agents.segment.assets import ensure_selfie_tflite
from agents.segment.registry import ModelSpec
from agents.segment.tflite_graph import read_tflite
from agents.segment.tflite_torch import TfliteNet
from base.errors import ModelUnavailable


def torch_network(spec: ModelSpec, cache_dir: Path) -> nn.Module:
    """The spec's network as an ``nn.Module`` in eval mode, on the CPU, float32."""
    if spec.source == "mediapipe-selfie":
        net: nn.Module = TfliteNet(read_tflite(ensure_selfie_tflite(cache_dir, spec.variant, download=False)))
    elif spec.source == "torchscript" and spec.path is not None:
        try:
            net = torch.jit.load(str(spec.path), map_location="cpu")  # type: ignore[no-untyped-call]
        except (RuntimeError, ValueError) as error:
            raise ModelUnavailable(f"model {spec.name!r}: {spec.path} is not a TorchScript file") from error
    elif spec.source == "torch-export" and spec.path is not None:
        try:
            # An exported program's module has no train/eval switch; it was exported in whatever mode it was.
            return torch.export.load(spec.path).module()
        except (RuntimeError, ValueError, KeyError) as error:
            raise ModelUnavailable(f"model {spec.name!r}: {spec.path} is not a torch.export file") from error
    else:
        raise ModelUnavailable(
            f"model {spec.name!r} is an ONNX file; run it with the onnxruntime or tensorrt backend, not torch"
        )
    return net.eval()


def export_onnx(
    net: nn.Module, input_size: tuple[int, int], path: Path, *, opset: int = 17, dynamic_batch: bool = True
) -> None:
    """Write ``net`` as ONNX (input ``[B, 3, h, w]``, batch dynamic unless told otherwise), atomically."""
    height, width = input_size
    example = torch.zeros(1, 3, height, width)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".onnx.part", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        # The TorchScript-based exporter needs no onnxscript and exports this static conv graph exactly;
        # torch 2.9+ marks it deprecated, and it says F.pad's reversed pads stay unfolded: both harmless.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
            torch.onnx.export(
                net,
                (example,),
                str(temporary),
                dynamo=False,
                opset_version=opset,
                input_names=["image"],
                output_names=["probability"],
                dynamic_axes={"image": {0: "batch"}, "probability": {0: "batch"}} if dynamic_batch else None,
            )
        temporary.chmod(0o644)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
