"""Where compute runs: the device names every command, setting and stage core takes, and whether a CUDA GPU
answers at all."""

from __future__ import annotations

import ctypes
import functools
import re

DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"
DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
CUDA_DRIVER = "libcuda.so.1"  # the driver's own library, which the NVIDIA container runtime mounts too


def is_device(name: str) -> bool:
    """``auto`` (a GPU where one answers, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    return re.fullmatch(DEVICE_PATTERN, name) is not None


@functools.cache
def cuda_gpu_count() -> int:
    """How many GPUs the CUDA driver offers this process (CUDA_VISIBLE_DEVICES applies); 0 without one.

    Asked of the driver library itself, as torch would answer it, without importing torch (half a gigabyte
    on a machine that then runs on the CPU). No CUDA context is created.
    """
    try:
        driver = ctypes.CDLL(CUDA_DRIVER)
    except OSError:
        return 0  # no NVIDIA driver installed (or not mounted into this container)
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0  # a driver without a usable GPU: none visible, none attached, or a driver/kernel mismatch
    return count.value
