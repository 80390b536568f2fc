"""Decode frames to RGB in display orientation, in batches: one chunk (seeking), a whole video, or a still."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
import av.error
import av.video.stream
import numpy as np
from av.codec.hwaccel import HWAccel

from agents.extract.chunks import ChunkSpec
from agents.extract.opening import REUPLOAD, guard_decoder, open_input, video_stream
from agents.extract.probe import probe
from agents.extract.still_header import declared_size
from base.errors import CorruptInput, UnsupportedInput

UNSPECIFIED_COLORSPACE = 2  # AVCOL_SPC_UNSPECIFIED


@dataclass(frozen=True)
class FrameBatch:
    """Consecutive frames of one video."""

    frames: np.ndarray  # [T, H, W, 3] uint8 RGB, display orientation, C-contiguous
    pts: np.ndarray  # [T] int64, in the video stream's time_base
    indices: np.ndarray  # [T] int64, frame numbers in display order from 0


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """One decoded frame as [H, W, 3] uint8 RGB, rotated for display."""
    # Untagged video: players assume BT.709 from 720 lines up, BT.601 below; match them, not swscale's 601.
    source_space = None
    if frame.colorspace == UNSPECIFIED_COLORSPACE:
        source_space = "ITU709" if frame.height >= 720 else "ITU601"
    rgb = frame.to_ndarray(format="rgb24", src_colorspace=source_space)  # [h, w, 3] as stored
    turns = round(frame.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _batch(frames: list[np.ndarray], pts: list[int], first_index: int) -> FrameBatch:
    return FrameBatch(
        np.stack(frames),
        np.asarray(pts, dtype=np.int64),
        np.arange(first_index, first_index + len(frames), dtype=np.int64),
    )


def _decoded(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path, first: int
) -> Iterator[av.VideoFrame]:
    """Frames in display order, the first being about frame ``first``, all of the stream's size; decoder
    errors become CorruptInput naming the frame."""
    ctx = stream.codec_context
    size = (ctx.width, ctx.height) if ctx.width and ctx.height else None  # as probed, before rotation
    index = first
    try:
        for frame in container.decode(stream):
            size = size or (frame.width, frame.height)
            if (frame.width, frame.height) != size:
                # Every stage after this one, and the encoder, hold one frame size for the whole video.
                raise UnsupportedInput(
                    f"{path}: the picture changes size near frame {index}, from {size[0]}×{size[1]} to "
                    f"{frame.width}×{frame.height}; re-encode the video at one size first"
                )
            yield frame
            index += 1
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"{path}: decoding broke near frame {index} ({exc}); {REUPLOAD}") from exc


def _open_decoder(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    stream = video_stream(container, path)
    stream.thread_type = "AUTO"  # frame and slice threads; the decoder picks the thread count
    guard_decoder(stream)
    return stream


def decode_chunk(path: Path | str, spec: ChunkSpec, batch_frames: int = 16) -> Iterator[FrameBatch]:
    """Frames [spec.warmup_start, spec.stop), seeking to the keyframe at/before warmup_start."""
    frames: list[np.ndarray] = []
    pts: list[int] = []
    done = 0
    try:
        for rgb, stamp in chunk_frames(path, spec):
            frames.append(rgb)
            pts.append(stamp)
            if len(frames) == batch_frames or done + len(frames) == spec.frame_count:
                yield _batch(frames, pts, spec.warmup_start + done)
                done += len(frames)
                frames, pts = [], []
    except CorruptInput:
        if frames:  # what was decoded before the damage still comes out
            yield _batch(frames, pts, spec.warmup_start + done)
        raise


def chunk_frames(
    path: Path | str, spec: ChunkSpec, accel: HWAccel | None = None
) -> Iterator[tuple[np.ndarray, int]]:
    """Frames [spec.warmup_start, spec.stop) one by one as (RGB [H, W, 3], pts), unbatched: for callers
    that copy each frame where it belongs anyway. ``accel``: decode on a GPU (`accel.decoder_accel`)."""
    path = Path(path)
    with open_input(path, accel) as container:
        stream = _open_decoder(container, path)
        frames = _decoded(container, stream, path, 0)
        if spec.seek_ts is not None and spec.warmup_start_pts is not None:
            container.seek(spec.seek_ts, stream=stream, backward=True, any_frame=False)
            frames = _decoded(container, stream, path, spec.warmup_start)
            first = next(frames, None)
            if first is None or (first.pts is not None and first.pts > spec.warmup_start_pts):
                # The seek overshot (an index that disagrees with the packets): decode from the beginning.
                container.seek(stream.start_time or 0, stream=stream, backward=True, any_frame=False)
                frames = _decoded(container, stream, path, 0)
            else:
                frames = itertools.chain([first], frames)
        yield from _collect(frames, path, spec)


def _collect(
    decoded: Iterator[av.VideoFrame], path: Path, spec: ChunkSpec
) -> Iterator[tuple[np.ndarray, int]]:
    wanted = spec.frame_count
    done = 0  # frames of this chunk emitted so far
    seen = 0  # frames decoded since the start of the file (used when there are no timestamps)
    for frame in decoded:
        if spec.warmup_start_pts is not None and frame.pts is not None:
            if frame.pts < spec.warmup_start_pts:
                continue
        elif seen < spec.warmup_start:
            seen += 1
            continue
        yield to_rgb(frame), frame.pts if frame.pts is not None else spec.warmup_start + done
        done += 1
        if done == wanted:
            return
    raise CorruptInput(
        f"{path}: the video ends at frame {spec.warmup_start + done}, before frame {spec.stop} that chunk "
        f"{spec.index} needs; the file is truncated or damaged; {REUPLOAD}"
    )


def iter_frames(
    path: Path | str, batch_frames: int = 16, accel: HWAccel | None = None
) -> Iterator[FrameBatch]:
    """Every frame of the video, in display order, in batches; ``accel``: decode on a GPU."""
    path = Path(path)
    info = probe(path)
    frames: list[np.ndarray] = []
    pts: list[int] = []
    done = 0
    with open_input(path, accel) as container:
        stream = _open_decoder(container, path)
        for frame in _decoded(container, stream, path, 0):
            frames.append(to_rgb(frame))
            pts.append(frame.pts if frame.pts is not None else done + len(frames) - 1)
            if len(frames) == batch_frames:
                yield _batch(frames, pts, done)
                done += len(frames)
                frames, pts = [], []
    if frames:
        yield _batch(frames, pts, done)
        done += len(frames)
    if info.frame_count_exact and done < info.frame_count:
        raise CorruptInput(
            f"{path}: the video ends at frame {done} but its header promises {info.frame_count}; "
            f"the file is truncated or damaged; {REUPLOAD}"
        )


def read_image(path: Path | str) -> np.ndarray:
    """A still as [1, H, W, 3] uint8 RGB, EXIF orientation applied."""
    path = Path(path)
    with open_input(path) as container:
        stream = video_stream(container, path)
        declared = declared_size(path)  # FFmpeg's opening leaves the size of a still over 8K unknown
        guard_decoder(stream, declared[1] * declared[2] if declared else None)
        for frame in _decoded(container, stream, path, 0):
            return np.ascontiguousarray(to_rgb(frame)[None])
    raise CorruptInput(f"{path}: no picture could be decoded; {REUPLOAD}")
