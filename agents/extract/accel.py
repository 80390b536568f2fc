"""Video decoding on the GPU (NVDEC, through FFmpeg's CUDA hwaccel) where the machine has an NVIDIA GPU.

PyPI's PyAV wheel carries the CUDA hwaccel. A decoded picture is copied back to memory as NV12 and
converted to RGB as a CPU-decoded one is; H.264 and HEVC decoding is exact, so only the colour conversion's
rounding can tell the two apart. Streams NVDEC cannot take (some profiles, MJPEG) decode on the CPU.
Encoding stays on the CPU either way (H100 and H200 have NVDEC but no NVENC).
"""

from __future__ import annotations

import functools
import logging

import av
import av.error
from av.codec.hwaccel import HWAccel, hwdevices_available

from base.devices import DEVICE_CHOICES, cuda_gpu_count, is_device
from base.errors import DeviceUnavailable

log = logging.getLogger(__name__)

_HELD: list[HWAccel] = []  # the probe's device contexts, held for the process's life


@functools.cache
def decoder_accel(device: str = "auto") -> HWAccel | None:
    """What to decode with on ``device`` (auto, cpu, cuda or cuda:N): NVDEC, or None for the CPU.

    ``auto`` takes NVDEC where an NVIDIA GPU answers and the CPU elsewhere; ``cuda`` insists on it.
    The device is opened once per process to find out.
    """
    if not is_device(device):
        raise DeviceUnavailable(f"unknown decoding device {device!r}; use {DEVICE_CHOICES}")
    if device == "cpu":
        return None
    if device == "auto" and cuda_gpu_count() == 0:
        return None  # no GPU answers: not worth opening anything
    if "cuda" not in hwdevices_available():
        _settle_for_the_cpu(device, "this build of FFmpeg (PyAV's) has no CUDA hwaccel")
        return None
    index = device.partition(":")[2] or None
    # Each opened file gets its own device context. On the device's primary context (the one torch and
    # TensorRT use too) that is a reference, not a new CUDA context per chunk, as long as one stays held.
    accel = HWAccel("cuda", device=index, allow_software_fallback=True, options={"primary_ctx": "1"})
    try:
        # A driver without a usable GPU (or a container not given the video capability) fails here.
        _HELD.append(accel.create(av.Codec("h264", "r")))
    except (av.error.FFmpegError, NotImplementedError) as exc:
        _settle_for_the_cpu(device, f"the CUDA device did not open for decoding ({exc})")
        return None
    log.info("decoding video on NVDEC (%s)", device)
    return accel


def _settle_for_the_cpu(device: str, why: str) -> None:
    """Log why the CPU decodes; raise instead where a GPU was asked for by name."""
    if device != "auto":
        raise DeviceUnavailable(
            f"video decoding on {device} was asked for, but {why}; choose the cpu instead"
        )
    log.info("decoding video on the CPU: %s", why)
