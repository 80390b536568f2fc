"""Stills: the result of an image job, and a small JPEG poster for any job."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from base.errors import InternalError, OutputError

JPEG_QUALITY = 90
POSTER_QUALITY = 82
POSTER_BACKDROP = 255  # a poster of a transparent result is shown on white: JPEG has no alpha
STILL_SUFFIXES = {".png": ".png", ".jpg": ".jpg", ".jpeg": ".jpg", ".webp": ".webp"}
WEBP_MAX_SIDE = 16383  # the format's own limit (14-bit sizes)


def write_image(path: Path | str, image: np.ndarray) -> None:
    """Write [H, W, 3] RGB or [H, W, 4] RGBA uint8; PNG and WebP keep alpha, JPEG refuses it."""
    path = Path(path)
    kind = STILL_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise OutputError(f"cannot write {path.name!r}: use .png (keeps transparency), .webp or .jpg")
    channels = _channels(image)
    if channels == 4 and kind == ".jpg":
        # Refuse rather than guess a background: the composite stage owns that choice.
        raise OutputError(
            f"{path.name}: JPEG cannot hold transparency; write .png or .webp, or pick a background"
        )
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if kind == ".jpg" else []
    if kind == ".webp" and max(image.shape[:2]) > WEBP_MAX_SIDE:
        raise OutputError(
            f"{path.name}: WebP holds at most {WEBP_MAX_SIDE} pixels a side, this image is "
            f"{image.shape[1]}x{image.shape[0]}; write .png instead"
        )
    if kind == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 101]  # above 100: lossless, like the PNG it stands in for
    _save(path, kind, _to_bgr(image, channels), params)


def write_poster(path: Path | str, frame: np.ndarray, max_width: int = 640) -> tuple[int, int]:
    """Write a JPEG thumbnail at most ``max_width`` wide; returns its (width, height)."""
    path = Path(path)
    channels = _channels(frame)
    if channels == 4:
        alpha = frame[..., 3:].astype(np.float32) / 255.0  # [H, W, 1]
        flat = frame[..., :3] * alpha + POSTER_BACKDROP * (1.0 - alpha)
        frame = np.clip(flat + 0.5, 0, 255).astype(np.uint8)
    h, w = frame.shape[:2]
    if w > max_width:
        size = (max_width, max(1, round(h * max_width / w)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)  # area averaging: no aliasing
    _save(path, ".jpg", _to_bgr(frame, 3), [cv2.IMWRITE_JPEG_QUALITY, POSTER_QUALITY])
    return frame.shape[1], frame.shape[0]


def _channels(image: np.ndarray) -> int:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4) or image.size == 0:
        raise InternalError(
            f"image must be uint8 [H, W, 3 or 4] with pixels, got {image.dtype} {image.shape}"
        )
    return int(image.shape[2])


def _to_bgr(image: np.ndarray, channels: int) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if channels == 4 else cv2.COLOR_RGB2BGR)


def _save(path: Path, kind: str, bgr: np.ndarray, params: list[int]) -> None:
    ok, data = cv2.imencode(kind, bgr, params)
    try:
        if not ok:
            raise OSError("the encoder refused the image")
        path.write_bytes(data.tobytes())
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({exc}): check the folder exists and is writable") from exc
