"""base.devices: the device vocabulary, and the driver's own count of GPUs (asked without torch)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from base import devices


@pytest.fixture(autouse=True)
def fresh_count() -> Iterator[None]:
    devices.cuda_gpu_count.cache_clear()  # each test asks afresh
    yield
    devices.cuda_gpu_count.cache_clear()


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_the_device_names(name: str) -> None:
    assert devices.is_device(name)


@pytest.mark.parametrize("name", ["", "gpu", "cuda:", "cudax", "cuda:-1", "CPU", "cuda:0 ", "cuda\n"])
def test_what_is_not_a_device(name: str) -> None:
    assert not devices.is_device(name)


def test_no_driver_library_is_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "CUDA_DRIVER", "libcuda-that-is-not-there.so.1")
    assert devices.cuda_gpu_count() == 0


def _driver(tmp_path: Path, init: int, count: int) -> str:
    """A stand-in for libcuda.so.1 with the two entry points we call, compiled for this test."""
    compiler = shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build a stand-in driver")
    source = tmp_path / "driver.c"
    source.write_text(
        f"int cuInit(unsigned int flags) {{ return flags == 0 ? {init} : 1; }}\n"
        f"int cuDeviceGetCount(int *count) {{ *count = {count}; return 0; }}\n"
    )
    library = tmp_path / "libdriver.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", library, source], check=True)
    return str(library)


def test_the_driver_s_count_is_the_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(devices, "CUDA_DRIVER", _driver(tmp_path, init=0, count=2))
    assert devices.cuda_gpu_count() == 2


def test_a_driver_that_does_not_start_is_no_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # CUDA_ERROR_NO_DEVICE (100): a driver installed on a machine (or container) given no GPU.
    monkeypatch.setattr(devices, "CUDA_DRIVER", _driver(tmp_path, init=100, count=2))
    assert devices.cuda_gpu_count() == 0
