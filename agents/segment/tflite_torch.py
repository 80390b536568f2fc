"""A pure ``nn.Module`` that runs a parsed .tflite graph in NCHW (the ops the selfie models use)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agents.segment.tflite_graph import TfliteGraph, TfliteOp
from base.errors import ModelUnavailable


def _activate(x: Tensor, activation: str) -> Tensor:
    if activation == "relu":
        return F.relu(x)
    if activation == "relu6":
        return F.relu6(x)
    return x


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    # TensorFlow puts the odd pixel of SAME padding after, so stride-2 convs pad (0, 1) or (1, 2), not (1, 1).
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class _Node(nn.Module):
    """One op: reads tensors by id, writes one tensor id."""

    def __init__(self, op: TfliteOp, inputs: list[int]) -> None:
        super().__init__()
        self.kind = op.kind
        self.inputs = inputs
        self.output = op.outputs[0]


class _Conv(_Node):
    def __init__(self, op: TfliteOp, graph: TfliteGraph, depthwise: bool) -> None:
        super().__init__(op, [op.inputs[0]])
        kernel = graph.constants[op.inputs[1]]  # conv [O, kh, kw, I]; depthwise [1, kh, kw, C * multiplier]
        in_shape = graph.shapes[op.inputs[0]]  # [1, H, W, C]
        if depthwise:
            if op.options.depth_multiplier != 1:
                raise ModelUnavailable(
                    "depthwise convolutions with a depth multiplier other than 1 are not ported"
                )
            weight = np.transpose(kernel, (3, 0, 1, 2))  # [C, 1, kh, kw]
            groups = in_shape[3]
        else:
            weight = np.transpose(kernel, (0, 3, 1, 2))  # [O, I, kh, kw]
            groups = 1
        bias = graph.constants[op.inputs[2]] if len(op.inputs) > 2 else np.zeros(weight.shape[0], np.float32)
        kh, kw = weight.shape[2:]
        (sh, sw), (dh, dw) = op.options.stride, op.options.dilation
        if op.options.padding == "same":
            top, bottom = _same_padding(in_shape[1], kh, sh, dh)
            left, right = _same_padding(in_shape[2], kw, sw, dw)
        else:
            top = bottom = left = right = 0
        symmetric = top == bottom and left == right
        self.pad = [0, 0, 0, 0] if symmetric else [left, right, top, bottom]
        self.conv = nn.Conv2d(
            weight.shape[1] * groups,
            weight.shape[0],
            (kh, kw),
            stride=(sh, sw),
            padding=(top, left) if symmetric else 0,
            dilation=(dh, dw),
            groups=groups,
        )
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            self.conv.bias.copy_(torch.from_numpy(bias))  # type: ignore[union-attr]
        self.activation: str = op.options.activation

    def forward(self, xs: list[Tensor]) -> Tensor:
        x = xs[0]
        if self.pad != [0, 0, 0, 0]:
            x = F.pad(x, self.pad)
        return _activate(self.conv(x), self.activation)


class _TransposeConvBias(_Node):
    """MediaPipe's custom Convolution2DTransposeBias: a strided transposed convolution plus bias."""

    def __init__(self, op: TfliteOp, graph: TfliteGraph) -> None:
        super().__init__(op, [op.inputs[0]])
        kernel = graph.constants[op.inputs[1]]  # [O, kh, kw, I]
        in_shape, out_shape = graph.shapes[op.inputs[0]], graph.shapes[op.outputs[0]]
        (sh, sw), (kh, kw) = op.options.stride, kernel.shape[1:3]
        # SAME keeps out = in * stride; only kernel == stride (as here) needs no cropping.
        if (in_shape[1] * sh, in_shape[2] * sw) != out_shape[1:3] or (kh, kw) != (sh, sw):
            raise ModelUnavailable(f"Convolution2DTransposeBias with kernel {kernel.shape} is not ported")
        self.deconv = nn.ConvTranspose2d(kernel.shape[3], kernel.shape[0], (kh, kw), stride=(sh, sw))
        with torch.no_grad():
            weight = np.ascontiguousarray(np.transpose(kernel, (3, 0, 1, 2)))  # [I, O, kh, kw]
            self.deconv.weight.copy_(torch.from_numpy(weight))
            self.deconv.bias.copy_(torch.from_numpy(graph.constants[op.inputs[2]]))  # type: ignore[union-attr]

    def forward(self, xs: list[Tensor]) -> Tensor:
        y: Tensor = self.deconv(xs[0])
        return y


class _Unary(_Node):
    def __init__(self, op: TfliteOp) -> None:
        super().__init__(op, [op.inputs[0]])
        self.activation: str = op.options.activation

    def forward(self, xs: list[Tensor]) -> Tensor:
        x = xs[0]
        if self.kind == "RELU":
            return F.relu(x)
        if self.kind == "HARD_SWISH":
            return F.hardswish(x)
        if self.kind == "LOGISTIC":
            return torch.sigmoid(x)
        # AVERAGE_POOL_2D over the whole map, and MEAN over H, W: the squeeze of squeeze-and-excitation. As
        # a pool it exports as GlobalAveragePool, which ONNX Runtime runs in its blocked layout (NCHWc); a
        # ReduceMean there costs a layout conversion on either side.
        return _activate(F.adaptive_avg_pool2d(x, 1), self.activation)


class _Binary(_Node):
    def __init__(self, op: TfliteOp) -> None:
        super().__init__(op, list(op.inputs[:2]))
        self.activation: str = op.options.activation

    def forward(self, xs: list[Tensor]) -> Tensor:
        y = xs[0] + xs[1] if self.kind == "ADD" else xs[0] * xs[1]
        return _activate(y, self.activation)


class _ResizeBilinear(_Node):
    def __init__(self, op: TfliteOp, graph: TfliteGraph) -> None:
        super().__init__(op, [op.inputs[0]])
        if op.options.align_corners or not op.options.half_pixel_centers:
            raise ModelUnavailable("only RESIZE_BILINEAR with half-pixel centres is ported")
        height, width = (int(v) for v in graph.constants[op.inputs[1]])
        _, in_height, in_width, _ = graph.shapes[op.inputs[0]]
        # A whole-number factor exports as a Resize by constant scales, which ONNX Runtime keeps in its
        # blocked layout; by sizes, worked out from the input's shape at run time, it converts the layout
        # twice. Both sample the same positions.
        whole = height % in_height == 0 and width % in_width == 0
        self.scale = (float(height // in_height), float(width // in_width)) if whole else None
        self.size = [height, width]

    def forward(self, xs: list[Tensor]) -> Tensor:
        if self.scale is not None:
            return F.interpolate(xs[0], scale_factor=self.scale, mode="bilinear", align_corners=False)
        return F.interpolate(xs[0], size=self.size, mode="bilinear", align_corners=False)


def _check_global_pool(op: TfliteOp, graph: TfliteGraph) -> None:
    _, height, width, _ = graph.shapes[op.inputs[0]]
    if op.kind == "AVERAGE_POOL_2D":
        whole = op.options.filter_size == (height, width) and op.options.padding == "valid"
    else:
        axes = sorted(int(a) % 4 for a in graph.constants[op.inputs[1]].reshape(-1))
        whole = axes == [1, 2] and op.options.keep_dims
    if not whole:
        raise ModelUnavailable(f"{op.kind} is only ported as a global mean over height and width")


def _node(op: TfliteOp, graph: TfliteGraph) -> _Node:
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return _Conv(op, graph, depthwise=op.kind == "DEPTHWISE_CONV_2D")
    if op.kind == "CUSTOM:Convolution2DTransposeBias":
        return _TransposeConvBias(op, graph)
    if op.kind in ("AVERAGE_POOL_2D", "MEAN"):
        _check_global_pool(op, graph)
        return _Unary(op)
    if op.kind in ("RELU", "HARD_SWISH", "LOGISTIC"):
        return _Unary(op)
    if op.kind in ("ADD", "MUL"):
        if any(i in graph.constants for i in op.inputs):
            raise ModelUnavailable(f"{op.kind} with a constant operand is not ported")
        return _Binary(op)
    if op.kind == "RESIZE_BILINEAR":
        return _ResizeBilinear(op, graph)
    raise ModelUnavailable(f"the .tflite op {op.kind} is not supported by the torch port")


class TfliteNet(nn.Module):
    """``[B, 3, H, W]`` float RGB in [0, 1] → ``[B, C, H, W]``: the .tflite graph's ops, run in NCHW."""

    def __init__(self, graph: TfliteGraph) -> None:
        super().__init__()
        self.input_id = graph.input_id
        self.output_id = graph.output_id
        nodes = [_node(op, graph) for op in graph.ops]
        self.nodes = nn.ModuleList(nodes)
        # Drop each intermediate after its last reader, so large batches keep only live tensors.
        last_use: dict[int, int] = {}
        for position, node in enumerate(nodes):
            for tensor_id in node.inputs:
                last_use[tensor_id] = position
        releases: list[list[int]] = [[] for _ in nodes]
        for tensor_id, position in last_use.items():
            if tensor_id != self.output_id:
                releases[position].append(tensor_id)
        # (input ids, output id, ids to release) per node, as plain lists so tracing sees constants.
        self.wiring = [
            (node.inputs, node.output, release) for node, release in zip(nodes, releases, strict=True)
        ]

    def forward(self, x: Tensor) -> Tensor:
        values: dict[int, Tensor] = {self.input_id: x}
        for node, (inputs, output, releases) in zip(self.nodes, self.wiring, strict=True):
            values[output] = node([values[i] for i in inputs])
            for tensor_id in releases:
                del values[tensor_id]
        return values[self.output_id]
