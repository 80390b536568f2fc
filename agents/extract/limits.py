"""Limits checked against a probe, before any decoding, so an oversized job fails fast and cheaply."""

from __future__ import annotations

from dataclasses import dataclass

from agents.extract.probe import MediaInfo
from base.errors import LimitExceeded


@dataclass(frozen=True)
class Limits:
    """The largest input a job may have."""

    max_width: int = 4096
    max_height: int = 4096
    max_duration_s: float = 3 * 3600.0
    max_frames: int = 3 * 3600 * 60  # three hours at 60 fps
    max_bytes: int = 20 * 1024**3
    # Phones film slow motion at up to 240 fps. The chunk is ~2 s whatever the rate, so a chunk's frames,
    # and the memory a worker needs for them, grow with the frame rate: 1000 fps would be 4x a 240 fps chunk.
    max_fps: float = 240.0


def validate(info: MediaInfo, limits: Limits) -> None:
    """Raise LimitExceeded naming the first limit ``info`` exceeds and how to raise it."""
    checks = [
        ("width", info.width, limits.max_width, "px", "max_width", "downscale the input"),
        ("height", info.height, limits.max_height, "px", "max_height", "downscale the input"),
        ("duration", info.duration_s, limits.max_duration_s, "s", "max_duration_s", "cut the input"),
        ("frame count", info.frame_count, limits.max_frames, "frames", "max_frames", "cut the input"),
        ("file size", info.size_bytes, limits.max_bytes, "bytes", "max_bytes", "cut or compress the input"),
        (
            "frame rate",
            float(info.fps),
            limits.max_fps,
            "fps",
            "max_fps",
            "convert the input to a lower frame rate",
        ),
    ]
    for what, value, limit, unit, field, remedy in checks:
        if value > limit:
            raise LimitExceeded(
                f"{info.path.name}: {what} {value:g} {unit} is over the limit of {limit:g} {unit}; "
                f"{remedy}, or raise the limit (Limits.{field})"
            )
