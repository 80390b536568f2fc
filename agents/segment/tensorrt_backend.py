"""TensorRT: an engine built from the ONNX file, cached per GPU, input shape and TensorRT version."""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from agents.segment.assets import write_atomically
from base.errors import ModelUnavailable

log = logging.getLogger(__name__)
R = TypeVar("R")


def _tensorrt() -> Any:
    try:
        return importlib.import_module("tensorrt")
    except ImportError as error:
        raise ModelUnavailable(
            "the tensorrt backend needs the TensorRT Python package: `pip install 'backdrop[gpu]'`, "
            "or choose --backend torch / onnxruntime"
        ) from error


# Engines kept in the cache (each GPU model, shape and TensorRT version makes its own); the least recently
# used beyond this are deleted when a new one is written.
KEEP_ENGINES = 8


def can_build_fp16(trt: Any) -> bool:
    """TensorRT 11 dropped weakly typed networks and with them BuilderFlag.FP16: an engine then runs in the
    ONNX file's own precision."""
    return hasattr(trt.BuilderFlag, "FP16")


def engine_path(onnx: Path, input_size: tuple[int, int], max_batch: int, half: bool, cache_dir: Path) -> Path:
    """Where the engine for this ONNX file, shape, GPU and TensorRT version is cached."""
    trt = _tensorrt()
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", torch.cuda.get_device_name()).strip("-")
    digest = hashlib.sha256(onnx.read_bytes()).hexdigest()[:16]
    height, width = input_size
    precision = "fp16" if half else "fp32"
    return (
        cache_dir
        / "tensorrt"
        / f"{digest}-{height}x{width}-b{max_batch}-{precision}-{gpu}-trt{trt.__version__}.engine"
    )


def _build(onnx: Path, input_size: tuple[int, int], max_batch: int, half: bool) -> bytes:
    trt = _tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelUnavailable(f"TensorRT cannot parse {onnx}: {errors}")
    config = builder.create_builder_config()
    if half and can_build_fp16(trt):
        config.set_flag(trt.BuilderFlag.FP16)
    height, width = input_size
    profile = builder.create_optimization_profile()
    name = network.get_input(0).name
    profile.set_shape(
        name, (1, 3, height, width), (max_batch, 3, height, width), (max_batch, 3, height, width)
    )
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelUnavailable(f"TensorRT failed to build an engine from {onnx}; see its log above")
    return bytes(serialized)


def load_or_build(path: Path, build: Callable[[], bytes], load: Callable[[bytes], R]) -> R:
    """``load`` the engine cached at ``path``; if there is none, or it does not load, ``build`` one, cache
    it (pruning the least recently used) and load that."""
    if path.is_file():
        try:
            loaded = load(path.read_bytes())
        except ModelUnavailable:
            log.warning("the cached TensorRT engine %s does not load; building it again", path.name)
        else:
            path.touch()  # the cache is pruned by last use
            return loaded
    data = build()
    write_atomically(path, data)
    prune(path.parent, KEEP_ENGINES)
    return load(data)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` most recently used engines in ``folder``; returns what went."""
    engines = sorted(folder.glob("*.engine"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in engines[keep:]:
        stale.unlink(missing_ok=True)
    return engines[keep:]


class TensorRtRunner:
    """Runs a TensorRT engine on torch CUDA tensors (no pycuda needed)."""

    name = "tensorrt"

    def __init__(self, engine_bytes: bytes, device: torch.device, output_index: int) -> None:
        trt = _tensorrt()
        self.device = device
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine(engine_bytes)
        if self.engine is None:
            raise ModelUnavailable(
                "TensorRT could not load the cached engine; delete the cache's tensorrt/ folder"
            )
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_names = [n for n in names if n != self.input_name]
        self.output_index = output_index
        self.dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}
        # Its own stream: not torch's legacy default stream, which synchronises with every other one.
        self.stream = torch.cuda.Stream(device)  # type: ignore[no-untyped-call]

    @classmethod
    def build(
        cls,
        onnx: Path,
        input_size: tuple[int, int],
        device: torch.device,
        max_batch: int,
        output_index: int,
        cache_dir: Path,
        half: bool,
    ) -> TensorRtRunner:
        """Load the cached engine, building (minutes) and caching it first if needed; a cached engine that
        no longer loads (corrupt, or from another TensorRT build) is built again."""
        with torch.cuda.device(device):
            half = half and can_build_fp16(_tensorrt())
            path = engine_path(onnx, input_size, max_batch, half, cache_dir)
            return load_or_build(
                path,
                lambda: _build(onnx, input_size, max_batch, half),
                lambda data: cls(data, device, output_index),
            )

    def run(self, batch: np.ndarray) -> np.ndarray:
        with torch.cuda.stream(self.stream):
            x = torch.from_numpy(batch).to(self.device).contiguous()  # [B, 3, h, w] float32
            _checked(self.context.set_input_shape(self.input_name, tuple(x.shape)), "take input", x.shape)
            _checked(self.context.set_tensor_address(self.input_name, x.data_ptr()), "bind input", x.shape)
            outputs = []
            for name in self.output_names:
                shape = tuple(self.context.get_tensor_shape(name))
                dtype = self.dtypes.get(self.engine.get_tensor_dtype(name), torch.float32)
                output = torch.empty(shape, dtype=dtype, device=self.device)
                _checked(self.context.set_tensor_address(name, output.data_ptr()), f"bind {name}", shape)
                outputs.append(output)
            _checked(self.context.execute_async_v3(self.stream.cuda_stream), "run", x.shape)
            result: np.ndarray = outputs[self.output_index].float().cpu().numpy()  # waits for the stream
        return result


def _checked(succeeded: bool, what: str, shape: Sequence[int]) -> None:
    """TensorRT reports a refused shape or binding by returning False, not by raising."""
    if not succeeded:
        raise ModelUnavailable(
            f"TensorRT could not {what} for a batch of shape {tuple(shape)} (outside the engine's "
            "optimisation profile?); use --backend torch or onnxruntime"
        )
