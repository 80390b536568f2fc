"""Matting quality metrics on alphas in [0, 1] (uint8 alphas are read as value / 255)."""

from __future__ import annotations

import cv2
import numpy as np

from base.errors import InternalError

GRADIENT_SIGMA = 1.4
"""σ of the Gaussian derivative filters in `gradient_error`, as in the Deep Image Matting benchmark."""


def _unit(alpha: np.ndarray) -> np.ndarray:
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) * np.float32(1 / 255)
    return alpha.astype(np.float32, copy=False)


def _same_shape(alpha: np.ndarray, gt: np.ndarray) -> None:
    if alpha.shape != gt.shape:
        raise InternalError(f"alpha {alpha.shape} and ground truth {gt.shape} must have the same shape")
    if alpha.size == 0:
        raise InternalError(f"alpha {alpha.shape} has no pixels to measure")


def mad(alpha: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute difference over every pixel (of every frame)."""
    _same_shape(alpha, gt)
    return float(np.mean(np.abs(_unit(alpha) - _unit(gt))))


def _gradient_kernels(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    # half-width where the Gaussian has fallen to 1 % of its peak-normalised value, as the DIM code does
    half = int(np.ceil(sigma * np.sqrt(-2.0 * np.log(np.sqrt(2.0 * np.pi) * sigma * 1e-2))))
    x = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(x**2) / (2.0 * sigma**2))
    deriv = -x / sigma**2 * gauss
    # the 2-D kernel outer(gauss, deriv) has unit L2 norm when each factor has
    return (gauss / np.linalg.norm(gauss)).astype(np.float32), (deriv / np.linalg.norm(deriv)).astype(
        np.float32
    )


def _gradient_magnitude(image: np.ndarray, sigma: float) -> np.ndarray:
    smooth, deriv = _gradient_kernels(sigma)
    gx = cv2.sepFilter2D(image, cv2.CV_32F, deriv, smooth, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.sepFilter2D(image, cv2.CV_32F, smooth, deriv, borderType=cv2.BORDER_REPLICATE)
    magnitude: np.ndarray = np.sqrt(gx * gx + gy * gy)
    return magnitude


def gradient_error(alpha: np.ndarray, gt: np.ndarray, sigma: float = GRADIENT_SIGMA) -> float:
    """Mean over pixels of (|∇α| − |∇α*|)², gradients by L2-normalised Gaussian-derivative filters of σ.

    Deep Image Matting reports the sum over the unknown region divided by 1000; this is the mean over all
    pixels (sum = mean × pixel count), so clips of different sizes compare. Accepts [H, W] or [T, H, W].
    """
    _same_shape(alpha, gt)
    a, g = _unit(alpha), _unit(gt)
    if a.ndim == 2:
        a, g = a[None], g[None]
    total = 0.0
    for frame, truth in zip(a, g, strict=True):
        diff = _gradient_magnitude(frame, sigma) - _gradient_magnitude(truth, sigma)
        total += float(np.mean(diff * diff))
    return total / len(a)


def dtssd_per_frame(alphas: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """For each pair of consecutive frames, the RMS over pixels of dα/dt − dα*/dt."""
    # alphas, gts: [T, H, W]; result: [T - 1] float64
    _same_shape(alphas, gts)
    a, g = _unit(alphas), _unit(gts)
    delta = np.diff(a, axis=0) - np.diff(g, axis=0)
    rms: np.ndarray = np.sqrt(np.mean(delta.astype(np.float64) ** 2, axis=(1, 2)))
    return rms


def dtssd(alphas: np.ndarray, gts: np.ndarray) -> float:
    """Temporal coherence error (Erofeev et al. 2015): the mean of `dtssd_per_frame`; lower flickers less."""
    per_frame = dtssd_per_frame(alphas, gts)
    return float(np.mean(per_frame)) if len(per_frame) else 0.0  # one frame cannot flicker


def flicker(alphas: np.ndarray) -> float:
    """Mean absolute change between consecutive frames, without ground truth (meaningful on still scenes)."""
    a = _unit(alphas)
    if len(a) < 2 or a[0].size == 0:
        return 0.0  # nothing changes between fewer than two frames
    return float(np.mean(np.abs(np.diff(a, axis=0))))
