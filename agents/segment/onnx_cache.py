"""The ONNX file a model runs from, exported once into the cache; torch is imported only to export."""

from __future__ import annotations

import hashlib
from pathlib import Path

from agents.segment.assets import ensure_selfie_tflite
from agents.segment.imgly import ensure_isnet
from agents.segment.registry import ModelSpec
from base.errors import ModelUnavailable

ONNX_OPSET = 17
# Bump when the torch port changes what it computes: the cached exports are then rebuilt.
PORT_VERSION = 2


def onnx_file(spec: ModelSpec, cache_dir: Path) -> Path:
    """An ONNX file for the spec: the user's own, or the torch port of the .tflite, exported on first use."""
    if spec.source == "onnx" and spec.path is not None:
        return spec.path
    if spec.source == "imgly-isnet":
        return ensure_isnet(cache_dir, download=False)
    if spec.source in ("torchscript", "torch-export"):
        raise ModelUnavailable(f"model {spec.name!r} is a torch model file; run it with the torch backend")
    tflite = ensure_selfie_tflite(cache_dir, spec.variant, download=False)
    # Keyed by the weights file, not by the built network, so a cache hit never needs torch (~0.5 GB RSS).
    digest = hashlib.sha256(tflite.read_bytes()).hexdigest()[:16]
    height, width = spec.input_size
    path = (
        cache_dir
        / "onnx"
        / f"{spec.name}-{height}x{width}-{digest}-port{PORT_VERSION}-opset{ONNX_OPSET}.onnx"
    )
    if not path.is_file():
        from agents.segment.networks import export_onnx, torch_network

        export_onnx(torch_network(spec, cache_dir), spec.input_size, path, opset=ONNX_OPSET)
    return path
