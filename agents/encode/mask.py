"""The matte as its own artifact: alpha as a greyscale video, or a greyscale PNG for a still.

The video is lossless H.264 (QP 0) in full range, so each pixel's grey level is its alpha exactly, after
any decoder's conversion to RGB. Lossless H.264 is the High 4:4:4 Predictive profile: FFmpeg-based tools
and editors read it; browsers may not play it.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.error
import av.video.stream
import cv2
import numpy as np

from agents.encode.formats import MP4
from base.errors import InternalError, OutputError

FULL_RANGE = 2  # AVCOL_RANGE_JPEG
LOSSLESS = {"qp": "0", "preset": "ultrafast"}  # ultrafast: lossless either way, and the fastest to write


def write_mask_video(
    path: Path | str, alpha: np.ndarray, pts: np.ndarray, *, time_base: Fraction, fps: Fraction
) -> None:
    """Alpha [T, H, W] uint8 at the source's timestamps ``pts`` as a greyscale MP4."""
    if alpha.ndim != 3 or alpha.dtype != np.uint8 or len(alpha) != len(pts) or not len(alpha):
        raise InternalError(f"alpha must be uint8 [T, H, W] with a timestamp a frame; got {alpha.shape}")
    height, width = alpha.shape[1:]
    path = Path(path)
    try:
        with av.open(str(path), "w", format="mp4", options=dict(MP4.options)) as container:
            stream = _stream(container, width, height, time_base, fps)
            durations = np.append(np.diff(pts), max(1, round(1 / (fps * time_base))))
            for plane, stamp, duration in zip(_even(alpha), pts, durations, strict=True):
                frame = av.VideoFrame.from_ndarray(plane, format="gray")
                frame = frame.reformat(format="yuv420p", dst_color_range="JPEG")
                frame.pts, frame.time_base, frame.duration = int(stamp), time_base, int(duration)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except (OSError, av.error.FFmpegError) as exc:
        path.unlink(missing_ok=True)
        raise OutputError(f"cannot write the mask {path} ({exc}): check free space and permissions") from exc


def write_mask_image(path: Path | str, alpha: np.ndarray) -> None:
    """Alpha [H, W] uint8 as a greyscale PNG."""
    ok, data = cv2.imencode(".png", alpha)
    if not ok:
        raise OutputError(f"the PNG encoder refused a {alpha.shape[1]}x{alpha.shape[0]} mask")
    try:
        Path(path).write_bytes(data.tobytes())
    except OSError as exc:
        raise OutputError(f"cannot write the mask {path} ({exc}): check free space and permissions") from exc


def _stream(
    container: av.container.OutputContainer, width: int, height: int, time_base: Fraction, fps: Fraction
) -> av.video.stream.VideoStream:
    stream = container.add_stream("libx264", rate=fps)
    if not isinstance(stream, av.video.stream.VideoStream):
        raise OutputError("libx264 is not a video encoder")
    stream.width, stream.height = width + width % 2, height + height % 2
    stream.pix_fmt = "yuv420p"
    stream.time_base = time_base
    ctx = stream.codec_context
    ctx.time_base = time_base
    ctx.color_range = FULL_RANGE
    ctx.options = dict(LOSSLESS)
    return stream


def _even(alpha: np.ndarray) -> np.ndarray:
    """4:2:0 needs even sizes: pad one edge row or column, as the writer does for the output."""
    pad_h, pad_w = alpha.shape[1] % 2, alpha.shape[2] % 2
    return np.pad(alpha, ((0, 0), (0, pad_h), (0, pad_w)), mode="edge") if pad_h or pad_w else alpha
