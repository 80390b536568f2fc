"""The composite → encode hand-off: a chunk's finished frames, lossless, with their source timestamps.

NUT, FFmpeg's own container, keeps any time base exactly (Matroska would round pts to milliseconds).

Measured at 1280×720 on 2 cores: x264 lossless (qp 0, ultrafast, 4:2:0) encodes ~170 fps and decodes
~100 fps at ~240 KB/frame; FFV1 ~90 / ~60 fps at a similar size. 4:2:0 is what the H.264 output stores
anyway, so x264 lossless loses nothing the final encode would keep. RGBA (transparent outputs) goes
through FFV1, which keeps the alpha plane.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from backdrop.errors import CorruptInput, OutputError


def write_intermediate(path: Path, frames: np.ndarray, pts: np.ndarray, time_base: Fraction) -> None:
    """``frames`` [T, H, W, 3 or 4] uint8 with ``pts`` [T] in ``time_base`` → a NUT file."""
    alpha = frames.shape[-1] == 4
    height, width = frames.shape[1:3]
    try:
        with av.open(str(path), "w", format="nut") as container:
            if alpha:
                stream = container.add_stream("ffv1", options={"slices": "4", "level": "3"})
                stream.pix_fmt = "bgra"
            else:
                stream = container.add_stream("libx264", options={"qp": "0", "preset": "ultrafast"})
                stream.pix_fmt = "yuv420p"
            # 4:2:0 needs even sizes; the source's odd edge is repeated like the final writer does.
            pad_w, pad_h = (0, 0) if alpha else (width % 2, height % 2)
            stream.width, stream.height = width + pad_w, height + pad_h
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
            for frame, stamp in zip(frames, pts, strict=True):
                image = frame
                if pad_w or pad_h:
                    image = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
                video = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(image), format="rgba" if alpha else "rgb24"
                )
                video.pts, video.time_base = int(stamp), time_base
                container.mux(stream.encode(video))
            container.mux(stream.encode(None))  # flush: the last frames are lost without it
    except (av.FFmpegError, OSError) as exc:
        raise OutputError(f"cannot write the intermediate {path}: {exc}") from exc


def read_intermediate(
    path: Path, width: int, height: int, time_base: Fraction
) -> Iterator[tuple[np.ndarray, int]]:
    """(frame [H, W, 3 or 4] uint8, pts in ``time_base``) in order, cropped back to ``width`` × ``height``."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            alpha = stream.codec_context.name == "ffv1"
            # The muxer may pick its own time base; convert back to the source's exactly.
            scale = Fraction(stream.time_base or time_base) / time_base
            for frame in container.decode(stream):
                image = frame.to_ndarray(format="rgba" if alpha else "rgb24")
                yield np.ascontiguousarray(image[:height, :width]), round((frame.pts or 0) * scale)
    except (av.FFmpegError, IndexError) as exc:
        raise CorruptInput(f"cannot read the intermediate {path}: {exc}") from exc
