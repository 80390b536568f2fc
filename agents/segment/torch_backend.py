"""The torch backend: a module on the CPU or a CUDA device. Imported only when torch is really wanted."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from base.devices import DEVICE_CHOICES, is_device
from base.errors import ModelUnavailable


class TorchRunner:
    """A torch module on the CPU (float32) or a CUDA device (float16 unless told otherwise)."""

    name = "torch"

    def __init__(self, net: nn.Module, device: torch.device | None, output_index: int, half: bool) -> None:
        device = device or torch.device("cpu")
        self.device = device
        self.half = half and device.type == "cuda"
        self.net = net.to(device).half() if self.half else net.to(device)
        self.output_index = output_index

    def run(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device, non_blocking=True)  # [B, 3, h, w]
            output = self.net(x.half() if self.half else x)
            if isinstance(output, (tuple, list)):
                output = output[self.output_index]
            return output.float().cpu().numpy()  # type: ignore[no-any-return]


def cuda_device(device: str) -> torch.device | None:
    if not is_device(device):
        raise ModelUnavailable(f"unknown device {device!r}; use {DEVICE_CHOICES}")
    if device == "cpu":
        return None
    if device == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else None
    if not torch.cuda.is_available():
        raise ModelUnavailable(f"device {device!r} asked for, but torch sees no CUDA GPU; use --device cpu")
    return torch.device(device)
