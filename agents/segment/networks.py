"""A model's network: the torch port of the selfie .tflite, a user's TorchScript, or an ONNX file."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx.reference import ReferenceEvaluator
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
        onnx.save(_fold_pads(onnx.load(temporary)), temporary)
        temporary.chmod(0o644)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _fold_pads(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with each zero Pad in front of a Conv moved into that Conv's own (asymmetric) pads.

    TensorFlow's SAME padding of a stride-2 conv puts the odd pixel after, which a torch Conv2d cannot say,
    so the port pads first. The exporter leaves those pads as a little graph computed at run time, and ONNX
    Runtime then runs each Pad on its own and converts the layout around it (~40% of the network's time).
    """
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    pads = [node for node in graph.node if node.op_type == "Pad"]
    if not pads:
        return model
    # the pads depend on constants only: evaluate that part of the graph
    constants = onnx.utils.Extractor(model).extract_model([], [node.input[1] for node in pads])
    amounts = ReferenceEvaluator(constants).run(None, {})
    folded = set()
    for pad, amount in zip(pads, amounts, strict=True):
        before, after = np.split(np.asarray(amount, np.int64), 2)  # per axis: N, C, H, W
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        convs = readers.get(pad.output[0], [])
        value_given = len(pad.input) > 2 and pad.input[2] != ""
        if mode != b"constant" or value_given or len(convs) != 1 or convs[0].op_type != "Conv":
            continue
        if before[:2].any() or after[:2].any() or (amount < 0).any():
            continue
        conv = convs[0]
        attributes = {a.name: a for a in conv.attribute}
        if attributes.get("auto_pad", onnx.helper.make_attribute("auto_pad", "NOTSET")).s != b"NOTSET":
            continue
        spatial = len(before) - 2
        own = list(attributes["pads"].ints) if "pads" in attributes else [0] * (2 * spatial)
        if "pads" in attributes:
            conv.attribute.remove(attributes["pads"])
        total = [int(v) for v in np.add(own, np.concatenate([before[2:], after[2:]]))]
        conv.attribute.append(onnx.helper.make_attribute("pads", total))
        conv.input[0] = pad.input[0]
        folded.add(pad.output[0])
    kept = [node for node in graph.node if not (node.op_type == "Pad" and node.output[0] in folded)]
    del graph.node[:]
    graph.node.extend(kept)
    # what computed the folded pads now feeds nothing: keep only the nodes between input and output
    return onnx.utils.Extractor(model).extract_model(
        [i.name for i in graph.input], [o.name for o in graph.output]
    )
