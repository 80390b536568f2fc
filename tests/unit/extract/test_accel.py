"""NVDEC where a GPU answers, the CPU elsewhere; a GPU asked for by name and absent is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from av.codec.hwaccel import HWAccel
from pydantic import ValidationError

from agents.extract import accel, iter_frames, plan_chunks
from agents.extract.accel import decoder_accel
from agents.extract.decode import chunk_frames
from agents.extract.opening import open_input, video_stream
from base.errors import CorruptInput, DeviceUnavailable
from base.settings import Settings
from tests import clips

has_driver = accel.NVIDIA_DRIVER.exists()
needs_gpu = pytest.mark.skipif(not has_driver, reason="no NVIDIA driver")
without_gpu = pytest.mark.skipif(has_driver, reason="an NVIDIA driver is loaded")


@pytest.fixture(autouse=True)
def fresh_probe() -> Iterator[None]:
    decoder_accel.cache_clear()  # each test asks the machine afresh
    yield
    decoder_accel.cache_clear()


def test_the_cpu_decodes_when_asked_to() -> None:
    assert decoder_accel("cpu") is None


@pytest.mark.parametrize("device", ["gpu", "cuda:", "nvdec", ""])
def test_an_unknown_device_is_refused_with_the_choices(device: str) -> None:
    with pytest.raises(DeviceUnavailable, match="auto, cpu, cuda or cuda:N"):
        decoder_accel(device)
    with pytest.raises(ValidationError):
        Settings(decode_device=device)


@without_gpu
def test_auto_decodes_on_the_cpu_without_a_driver() -> None:
    assert decoder_accel("auto") is None


@without_gpu
def test_a_driver_without_a_usable_gpu_leaves_auto_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Past the driver check, FFmpeg really tries to open the CUDA device, and fails on this machine.
    monkeypatch.setattr(accel, "NVIDIA_DRIVER", tmp_path)
    assert decoder_accel("auto") is None
    decoder_accel.cache_clear()
    with pytest.raises(DeviceUnavailable, match=r"cuda was asked for.*choose the cpu"):
        decoder_accel("cuda")


@without_gpu
def test_a_gpu_asked_for_by_name_is_refused_where_none_is() -> None:
    with pytest.raises(DeviceUnavailable, match="cuda:1 was asked for"):
        decoder_accel("cuda:1")


@without_gpu
def test_a_gpu_decoder_that_does_not_start_leaves_the_file_to_the_cpu(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What a worker holds when its GPU stops answering after start-up: the job's file still decodes.
    clip = clips.make_clip(tmp_path / "clip.mp4", frames=12)
    gone = HWAccel("cuda", allow_software_fallback=True)
    frames = np.concatenate([b.frames for b in iter_frames(clip.path, 8, gone)])
    assert [clips.frame_index(f) for f in frames] == list(range(12))
    assert "opens on the CPU" in caplog.text
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(clip.path.read_bytes()[:300])
    with pytest.raises(CorruptInput), open_input(damaged, gone):  # still a damaged file, not a GPU problem
        pass


@needs_gpu
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
