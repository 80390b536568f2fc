"""NVDEC where a GPU answers, the CPU elsewhere; a GPU asked for by name and absent is refused.

NVDEC's own check, on a GPU, is in tests/unit/segment/test_gpu.py, the GPU tests the device check runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from av.codec.hwaccel import HWAccel
from pydantic import ValidationError

from agents.extract import accel, iter_frames
from agents.extract.accel import decoder_accel
from agents.extract.opening import open_input
from base.devices import cuda_gpu_count
from base.errors import CorruptInput, DeviceUnavailable, ModelUnavailable
from base.settings import Settings
from tests import clips

without_gpu = pytest.mark.skipif(cuda_gpu_count() > 0, reason="a CUDA GPU answers")


@pytest.fixture(autouse=True)
def fresh_probe() -> Iterator[None]:
    decoder_accel.cache_clear()  # each test asks the machine afresh
    yield
    decoder_accel.cache_clear()


def test_the_cpu_decodes_when_asked_to() -> None:
    assert decoder_accel("cpu") is None


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cudax", "cuda\n", "nvdec", ""])
def test_an_unknown_device_is_refused_with_the_choices(device: str) -> None:
    # The decoder, the settings and the segmenter take one vocabulary (base.devices).
    from agents.segment.torch_backend import cuda_device

    with pytest.raises(DeviceUnavailable, match="auto, cpu, cuda or cuda:N"):
        decoder_accel(device)
    with pytest.raises(ValidationError):
        Settings(decode_device=device)
    with pytest.raises(ModelUnavailable, match="auto, cpu, cuda or cuda:N"):
        cuda_device(device)


@without_gpu
def test_auto_decodes_on_the_cpu_without_a_gpu() -> None:
    assert decoder_accel("auto") is None


@without_gpu
def test_a_driver_without_a_usable_gpu_leaves_auto_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Past the driver's count, FFmpeg really tries to open the CUDA device, and fails on this machine.
    monkeypatch.setattr(accel, "cuda_gpu_count", lambda: 1)
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


@without_gpu
def test_only_a_decoding_stage_s_worker_needs_the_gpu_it_is_told_to_decode_on() -> None:
    from agents.workers import DECODING_STAGES
    from agents.workers.context import StageContext

    told = Settings(decode_device="cuda")
    with pytest.raises(DeviceUnavailable, match="cuda was asked for"):
        StageContext.open(told, decodes=True)  # stops at start, before taking work
    context = StageContext.open(told, decodes=False)  # encode, assemble, extract: no GPU opened
    try:
        assert context.decode_accel is None
    finally:
        context.close()
    # The set says which handlers decode; it must follow them.
    workers = Path(__file__).resolve().parents[3] / "agents" / "workers"
    decoding = {f.stem for f in workers.glob("*.py") if "context.chunk_frames(" in f.read_text()}
    assert decoding == DECODING_STAGES
