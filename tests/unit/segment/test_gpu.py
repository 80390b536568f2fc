"""CUDA, TensorRT and NVDEC paths: checked against the CPU where a GPU is present, skipped elsewhere."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from agents.extract import iter_frames, plan_chunks
from agents.extract.accel import decoder_accel
from agents.extract.decode import chunk_frames
from agents.extract.opening import open_input, video_stream
from agents.segment.backends import Segmenter, load_segmenter
from base.devices import cuda_gpu_count
from base.errors import ModelUnavailable
from tests import clips

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


@needs_cuda
def test_the_driver_counts_the_gpus_torch_counts() -> None:
    # `auto` asks the driver (base.devices) so the CPU path never imports torch; both must agree.
    assert cuda_gpu_count() == torch.cuda.device_count() > 0


def _frames() -> np.ndarray:
    return np.stack([data.astronaut(), data.astronaut()[:, ::-1]])  # [2, 512, 512, 3]


@needs_cuda
def test_torch_cuda_fp16_matches_cpu(model_cache: Path, ort_selfie: Segmenter) -> None:
    segmenter = load_segmenter("selfie", "torch", "cuda", cache_dir=model_cache, batch_size=2)
    got, expected = segmenter.predict(_frames()), ort_selfie.predict(_frames())
    assert np.abs(got - expected).mean() < 2e-3
    assert ((got > 0.5) == (expected > 0.5)).mean() > 0.995


@needs_cuda
def test_tensorrt_matches_cpu(model_cache: Path, ort_selfie: Segmenter) -> None:
    pytest.importorskip("tensorrt")
    segmenter = load_segmenter("selfie", "tensorrt", "cuda", cache_dir=model_cache, batch_size=2)
    got, expected = segmenter.predict(_frames()), ort_selfie.predict(_frames())
    assert np.abs(got - expected).mean() < 2e-3
    assert ((got > 0.5) == (expected > 0.5)).mean() > 0.995
    assert load_segmenter(cache_dir=model_cache, batch_size=2).backend == "tensorrt"  # auto, engine cached


def test_tensorrt_without_a_gpu_is_refused(model_cache: Path) -> None:
    with pytest.raises(ModelUnavailable, match="tensorrt"):
        load_segmenter("selfie", "tensorrt", "cpu", cache_dir=model_cache)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_a_gpu_is_refused(model_cache: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no CUDA GPU"):
        load_segmenter("selfie", "torch", "cuda", cache_dir=model_cache)


@pytest.mark.skipif(cuda_gpu_count() > 0, reason="a CUDA GPU answers")
def test_auto_without_a_gpu_runs_onnx_runtime_and_never_imports_torch(model_cache: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from agents.segment.backends import load_segmenter; "
        f"s = load_segmenter('selfie', cache_dir=Path({str(model_cache)!r})); "
        "print(s.backend, 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split()[-2:] == ["onnxruntime", "False"]


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed")
def test_missing_tensorrt_says_how_to_install_it() -> None:
    from agents.segment.tensorrt_backend import _tensorrt

    with pytest.raises(ModelUnavailable, match=r"backdrop\[gpu\]"):
        _tensorrt()


@needs_cuda
def test_nvdec_decodes_the_frames_the_cpu_decodes(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "clip.mp4", width=320, height=240, frames=30, gop=10)
    nvdec = decoder_accel("auto")
    assert nvdec is not None
    with open_input(clip.path, nvdec) as container:
        assert video_stream(container, clip.path).codec_context.is_hwaccel
    on_cpu = np.concatenate([b.frames for b in iter_frames(clip.path, 8)])
    on_gpu = np.concatenate([b.frames for b in iter_frames(clip.path, 8, nvdec)])
    assert on_gpu.shape == on_cpu.shape
    # the same decoded pictures; only NV12 against YUV 4:2:0 to RGB may round apart
    difference = np.abs(on_gpu.astype(np.int16) - on_cpu)
    assert difference.mean() < 0.5
    assert difference.max() <= 4
    assert [clips.frame_index(f) for f in on_gpu] == list(range(30))
    spec = plan_chunks(clip.path, chunk_seconds=0.5, warmup_frames=3)[1]
    seeked = [rgb for rgb, _ in chunk_frames(clip.path, spec, nvdec)]
    assert [clips.frame_index(f) for f in seeked] == list(range(spec.warmup_start, spec.stop))
