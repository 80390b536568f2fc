"""Where compute runs: the device names every command, setting and stage core takes."""

from __future__ import annotations

import re

DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"
DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def is_device(name: str) -> bool:
    """``auto`` (a GPU where one answers, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    return re.match(DEVICE_PATTERN, name) is not None
