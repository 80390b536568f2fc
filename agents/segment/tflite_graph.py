"""Read a float .tflite flatbuffer into plain data: tensor shapes, dequantised weights and the op list."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import tflite  # type: ignore[import-untyped]

from base.errors import ModelUnavailable

Padding = Literal["same", "valid"]
Activation = Literal["none", "relu", "relu6"]

_ACTIVATIONS: dict[int, Activation] = {
    tflite.ActivationFunctionType.NONE: "none",
    tflite.ActivationFunctionType.RELU: "relu",
    tflite.ActivationFunctionType.RELU6: "relu6",
}
_DTYPES: dict[int, type[np.generic]] = {
    tflite.TensorType.FLOAT32: np.float32,
    tflite.TensorType.FLOAT16: np.float16,
    tflite.TensorType.INT32: np.int32,
}
_OP_NAMES = {code: name for name, code in vars(tflite.BuiltinOperator).items() if not name.startswith("_")}
# TfLitePadding in the C API, which MediaPipe's custom ops take as raw option bytes.
_C_PADDING: dict[int, Padding] = {1: "same", 2: "valid"}


@dataclass(frozen=True)
class OpOptions:
    """The options of one op that the port needs; fields an op does not have keep their defaults."""

    padding: Padding = "valid"
    stride: tuple[int, int] = (1, 1)  # (h, w)
    dilation: tuple[int, int] = (1, 1)
    activation: Activation = "none"
    depth_multiplier: int = 1
    filter_size: tuple[int, int] = (1, 1)
    align_corners: bool = False
    half_pixel_centers: bool = False
    keep_dims: bool = False


@dataclass(frozen=True)
class TfliteOp:
    """One op; ``kind`` is the builtin name, or ``CUSTOM:<name>``."""

    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: OpOptions


@dataclass(frozen=True)
class TfliteGraph:
    """The single subgraph of a model, DEQUANTIZE ops folded into float32 constants."""

    input_id: int
    output_id: int
    shapes: dict[int, tuple[int, ...]]  # NHWC, as stored
    names: dict[int, str]
    constants: dict[int, np.ndarray] = field(repr=False)
    ops: tuple[TfliteOp, ...]
    description: str

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the network input."""
        _, height, width, _ = self.shapes[self.input_id]
        return height, width

    def parameter_count(self) -> int:
        """Number of float weights (what Keras would call parameters)."""
        return sum(int(a.size) for a in self.constants.values() if a.dtype == np.float32)


def _activation(code: int) -> Activation:
    if code not in _ACTIVATIONS:
        raise ModelUnavailable(f"unsupported fused activation {code} in the .tflite model")
    return _ACTIVATIONS[code]


def _options(kind: str, op: tflite.Operator) -> OpOptions:
    table = op.BuiltinOptions()
    if kind == "CONV_2D":
        conv = tflite.Conv2DOptions()
        conv.Init(table.Bytes, table.Pos)
        return OpOptions(
            padding="same" if conv.Padding() == tflite.Padding.SAME else "valid",
            stride=(conv.StrideH(), conv.StrideW()),
            dilation=(conv.DilationHFactor(), conv.DilationWFactor()),
            activation=_activation(conv.FusedActivationFunction()),
        )
    if kind == "DEPTHWISE_CONV_2D":
        depthwise = tflite.DepthwiseConv2DOptions()
        depthwise.Init(table.Bytes, table.Pos)
        return OpOptions(
            padding="same" if depthwise.Padding() == tflite.Padding.SAME else "valid",
            stride=(depthwise.StrideH(), depthwise.StrideW()),
            dilation=(depthwise.DilationHFactor(), depthwise.DilationWFactor()),
            activation=_activation(depthwise.FusedActivationFunction()),
            depth_multiplier=depthwise.DepthMultiplier(),
        )
    if kind == "AVERAGE_POOL_2D":
        pool = tflite.Pool2DOptions()
        pool.Init(table.Bytes, table.Pos)
        return OpOptions(
            padding="same" if pool.Padding() == tflite.Padding.SAME else "valid",
            stride=(pool.StrideH(), pool.StrideW()),
            filter_size=(pool.FilterHeight(), pool.FilterWidth()),
            activation=_activation(pool.FusedActivationFunction()),
        )
    if kind in ("ADD", "MUL"):
        binary = tflite.AddOptions() if kind == "ADD" else tflite.MulOptions()
        binary.Init(table.Bytes, table.Pos)
        return OpOptions(activation=_activation(binary.FusedActivationFunction()))
    if kind == "RESIZE_BILINEAR":
        resize = tflite.ResizeBilinearOptions()
        resize.Init(table.Bytes, table.Pos)
        return OpOptions(
            align_corners=bool(resize.AlignCorners()), half_pixel_centers=bool(resize.HalfPixelCenters())
        )
    if kind == "MEAN":
        reducer = tflite.ReducerOptions()
        reducer.Init(table.Bytes, table.Pos)
        return OpOptions(keep_dims=bool(reducer.KeepDims()))
    if kind == "CUSTOM:Convolution2DTransposeBias":
        # MediaPipe passes a TfLiteTransposeConvParams struct: int32 padding, stride_width, stride_height.
        padding, stride_w, stride_h = np.frombuffer(
            op.CustomOptionsAsNumpy().tobytes(), "<i4", count=3
        ).tolist()
        if padding not in _C_PADDING:
            raise ModelUnavailable(f"unsupported padding {padding} in Convolution2DTransposeBias")
        return OpOptions(padding=_C_PADDING[padding], stride=(stride_h, stride_w))
    return OpOptions()


def _op_kind(model: tflite.Model, op: tflite.Operator) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    # Old files keep the code in the deprecated int8 field; newer ones in the int32 field.
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == tflite.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + str(code.CustomCode().decode())
    return str(_OP_NAMES.get(builtin, f"BUILTIN_{builtin}"))


def read_tflite(path: Path) -> TfliteGraph:
    """Parse a float (or fp16-weight) .tflite model with one subgraph, one input and one output."""
    data = path.read_bytes()
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() != 1:
            raise ModelUnavailable(
                f"{path} has {model.SubgraphsLength()} subgraphs; only single-graph models port"
            )
        graph = model.Subgraphs(0)
    except (IndexError, ValueError) as error:  # flatbuffers raises these on truncated or foreign files
        raise ModelUnavailable(f"{path} is not a readable .tflite file: {error}") from error
    shapes: dict[int, tuple[int, ...]] = {}
    names: dict[int, str] = {}
    constants: dict[int, np.ndarray] = {}
    for index in range(graph.TensorsLength()):
        tensor = graph.Tensors(index)
        shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        shapes[index] = shape
        names[index] = tensor.Name().decode()
        buffer = model.Buffers(tensor.Buffer())
        if buffer.DataLength() and tensor.Type() in _DTYPES:
            raw = buffer.DataAsNumpy().tobytes()
            constants[index] = np.frombuffer(raw, _DTYPES[tensor.Type()]).reshape(shape).copy()
    ops: list[TfliteOp] = []
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        kind = _op_kind(model, op)
        inputs = tuple(int(i) for i in op.InputsAsNumpy() if i >= 0)
        outputs = tuple(int(i) for i in op.OutputsAsNumpy())
        if kind == "DEQUANTIZE" and inputs[0] in constants:
            constants[outputs[0]] = constants[inputs[0]].astype(np.float32)
            continue
        ops.append(TfliteOp(kind, inputs, outputs, _options(kind, op)))
    if graph.InputsLength() != 1 or graph.OutputsLength() != 1:
        raise ModelUnavailable(f"{path} must have one input and one output tensor")
    return TfliteGraph(
        input_id=int(graph.Inputs(0)),
        output_id=int(graph.Outputs(0)),
        shapes=shapes,
        names=names,
        constants=constants,
        ops=tuple(ops),
        description=(model.Description() or b"").decode(errors="replace"),
    )
