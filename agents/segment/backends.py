"""Batched foreground probability per frame, on torch (CPU / CUDA), ONNX Runtime (CPU) or TensorRT."""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from agents.segment.onnx_cache import onnx_file
from agents.segment.preprocess import check_frames, to_network_input, to_probability
from agents.segment.registry import ONNX_SOURCES, ModelRegistry, ModelSpec, builtin_registry
from base.devices import cuda_gpu_count
from base.errors import ModelUnavailable
from schemas.models import DEFAULT_MODEL

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
BackendName = Literal["auto", "torch", "onnxruntime", "tensorrt"]


class Runner(Protocol):
    """Runs the network on one batch: ``[B, 3, h, w]`` float32 → the chosen output, ``[B, C, h', w']``."""

    name: str

    def run(self, batch: np.ndarray) -> np.ndarray: ...


class OnnxRuntimeRunner:
    """An ONNX model on ONNX Runtime's CPU provider."""

    name = "onnxruntime"

    def __init__(self, path: Path, output_index: int, threads: int | None) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0 = ONNX Runtime picks (one per physical core)
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # ORT raises its own untyped exceptions for unreadable models
            raise ModelUnavailable(f"ONNX Runtime cannot load {path}: {error}") from error
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        # A model exported with a fixed batch of 1 gets its batch one frame at a time.
        self.fixed_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
        self.output_name = self.session.get_outputs()[output_index].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        if self.fixed_batch == 1 and batch.shape[0] != 1:
            return np.concatenate([self.run(batch[i : i + 1]) for i in range(batch.shape[0])])
        (output,) = self.session.run([self.output_name], {self.input_name: batch})
        return np.asarray(output)


@dataclass
class Segmenter:
    """Foreground probability per frame with one model on one backend."""

    spec: ModelSpec
    runner: Runner
    batch_size: int

    @property
    def backend(self) -> str:
        """Which backend runs the network."""
        return self.runner.name

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """``[T, H, W, 3]`` uint8 RGB → float32 ``[T, h, w]`` in [0, 1] at the model's input size."""
        check_frames(frames)
        height, width = self.spec.input_size
        result = np.empty((frames.shape[0], height, width), np.float32)
        for start in range(0, frames.shape[0], self.batch_size):
            batch = to_network_input(frames[start : start + self.batch_size], self.spec)  # [B, 3, h, w]
            result[start : start + batch.shape[0]] = to_probability(self.runner.run(batch), self.spec)
        return result


def _cuda_device(device: str) -> torch.device | None:
    if device == "cpu":
        return None
    if device == "auto" and cuda_gpu_count() == 0:
        # No GPU answers the driver: the CPU, without importing torch (half a gigabyte of memory).
        return None
    from agents.segment.torch_backend import cuda_device

    return cuda_device(device)


def _choose_backend(spec: ModelSpec, cuda: torch.device | None) -> BackendName:
    torch_file = spec.source in ("torchscript", "torch-export")
    if cuda is not None and not torch_file and importlib.util.find_spec("tensorrt") is not None:
        return "tensorrt"
    if torch_file or (cuda is not None and spec.source not in ONNX_SOURCES):
        return "torch"
    return "onnxruntime"


def load_segmenter(
    name: str = DEFAULT_MODEL,
    backend: BackendName = "auto",
    device: str = "auto",
    *,
    cache_dir: Path,
    batch_size: int = 8,
    threads: int | None = None,
    half: bool = True,
    registry: ModelRegistry | None = None,
) -> Segmenter:
    """A ready segmenter; ``auto``: TensorRT on a GPU if installed, else torch on CUDA, else ONNX Runtime."""
    # threads sets ONNX Runtime's intra-op pool; torch keeps its process-wide setting (torch.set_num_threads).
    if batch_size < 1:
        raise ModelUnavailable(f"batch size must be at least 1, got {batch_size}")
    spec = (registry or builtin_registry()).get(name)
    cuda = _cuda_device(device)
    chosen = _choose_backend(spec, cuda) if backend == "auto" else backend
    try:
        runner = _runner(chosen, spec, cuda, device, cache_dir, batch_size, threads, half)
    except ModelUnavailable as exc:
        if not (backend == "auto" and chosen == "tensorrt"):
            raise
        # Asked for nothing in particular: a TensorRT engine that cannot be built or loaded costs speed,
        # not the worker.
        fallback: BackendName = "onnxruntime" if spec.source in ONNX_SOURCES else "torch"
        log.warning("TensorRT is not usable for %s (%s); running on %s instead", spec.name, exc, fallback)
        runner = _runner(fallback, spec, cuda, "auto", cache_dir, batch_size, threads, half)
    return Segmenter(spec, runner, batch_size)


def _runner(
    chosen: BackendName,
    spec: ModelSpec,
    cuda: torch.device | None,
    device: str,
    cache_dir: Path,
    batch_size: int,
    threads: int | None,
    half: bool,
) -> Runner:
    if chosen == "torch":
        from agents.segment.networks import torch_network
        from agents.segment.torch_backend import TorchRunner

        return TorchRunner(torch_network(spec, cache_dir), cuda, spec.output_index, half)
    if chosen == "onnxruntime":
        if cuda is not None and device != "auto":
            raise ModelUnavailable("the onnxruntime backend runs on the CPU only; use --device cpu or torch")
        return OnnxRuntimeRunner(onnx_file(spec, cache_dir), spec.output_index, threads)
    if chosen == "tensorrt":
        from agents.segment.tensorrt_backend import TensorRtRunner

        if cuda is None:
            raise ModelUnavailable(
                "the tensorrt backend needs a CUDA GPU, and torch sees none; use onnxruntime"
            )
        return TensorRtRunner.build(
            onnx_file(spec, cache_dir), spec.input_size, cuda, batch_size, spec.output_index, cache_dir, half
        )
    raise ModelUnavailable(f"unknown backend {chosen!r}; use auto, torch, onnxruntime or tensorrt")
