"""Probe a media file: streams, exact frame rate, rotation, duration, audio; decodes one frame at most."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.audio.stream
import av.container
import av.error
import av.video.stream

from agents.extract.opening import (
    MAX_PROBE_PIXELS,
    REUPLOAD,
    check_file,
    guard_decoder,
    open_input,
    video_stream,
)
from agents.extract.still_header import declared_size
from base.errors import CorruptInput, UnsupportedInput

# Containers FFmpeg uses for single still images.
IMAGE_FORMATS = frozenset({"png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "image2"})
STILL_CODECS = {"png_pipe": "png", "jpeg_pipe": "mjpeg", "webp_pipe": "webp"}
VFR_SAMPLE_PACKETS = 600


@dataclass(frozen=True)
class AudioInfo:
    """The source audio stream, as stored (it is copied, not re-encoded, whenever the output allows)."""

    codec: str
    sample_rate: int
    channels: int
    duration_s: float


@dataclass(frozen=True)
class MediaInfo:
    """What a video or still holds; width and height are in display orientation (rotation applied)."""

    path: Path
    container: str
    size_bytes: int
    is_image: bool
    width: int
    height: int
    rotation: int  # degrees counter-clockwise the stored picture is turned for display: 0, 90, 180 or 270
    fps: Fraction  # exact average rate: 24000/1001 stays 24000/1001
    time_base: Fraction  # of the video stream; every pts elsewhere is in this unit
    frame_count: int
    frame_count_exact: bool  # False: estimated from duration x fps (plan_chunks counts exactly)
    duration_s: float
    video_codec: str
    pix_fmt: str
    variable_frame_rate: bool
    start_pts: int  # pts of the first frame, in time_base
    audio: AudioInfo | None

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) of the frames as coded, before rotation."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


def probe(path: Path | str) -> MediaInfo:
    """Read a file's streams and facts; raise a typed input error when it cannot be processed."""
    path = Path(path)
    check_file(path)
    huge = _huge_still(path)
    if huge is not None:
        return huge
    with open_input(path) as container:
        stream = video_stream(container, path)
        ctx = stream.codec_context
        is_image = container.format.name in IMAGE_FORMATS
        rotation, sample_pts = _first_frame_facts(container, stream, path)
        time_base = stream.time_base or Fraction(1, 90000)
        fps = _frame_rate(stream, sample_pts, time_base)
        duration_s = _duration(container, stream, time_base)
        if is_image:
            frame_count, exact, duration_s = 1, True, 0.0
        elif stream.frames > 0:
            frame_count, exact = stream.frames, True
        else:
            frame_count, exact = max(1, round(duration_s * fps)), False
        width, height = (ctx.height, ctx.width) if rotation in (90, 270) else (ctx.width, ctx.height)
        return MediaInfo(
            path=path,
            container=container.format.name,
            size_bytes=path.stat().st_size,
            is_image=is_image,
            width=width,
            height=height,
            rotation=rotation,
            fps=fps,
            time_base=time_base,
            frame_count=frame_count,
            frame_count_exact=exact,
            duration_s=duration_s,
            video_codec=ctx.name,
            pix_fmt=ctx.pix_fmt or "unknown",
            variable_frame_rate=_is_variable(sample_pts),
            start_pts=stream.start_time if stream.start_time is not None else (min(sample_pts, default=0)),
            audio=_audio_info(container, duration_s),
        )


def _first_frame_facts(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path
) -> tuple[int, list[int]]:
    """Decode the first picture (for rotation, and to prove the codec decodes); sample packet timestamps."""
    ctx = stream.codec_context
    decode = ctx.width * ctx.height <= MAX_PROBE_PIXELS
    guard_decoder(stream)
    rotation: int | None = None if decode else 0
    sample_pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and packet.size > 0 and not packet.is_discard:
                sample_pts.append(packet.pts)
            if rotation is None:
                for frame in packet.decode():
                    rotation = round(frame.rotation) % 360
                    break
            if rotation is not None and len(sample_pts) >= VFR_SAMPLE_PACKETS:
                break
    except av.error.DecoderNotFoundError as exc:
        raise UnsupportedInput(
            f"{path}: no decoder for video codec {ctx.name!r} in this build; convert it to H.264 (MP4) first"
        ) from exc
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"{path}: the first video frame cannot be decoded ({exc}); {REUPLOAD}") from exc
    if rotation is None:
        raise CorruptInput(f"{path}: no video frame could be decoded at all; {REUPLOAD}")
    if rotation % 90:
        raise UnsupportedInput(
            f"{path} asks to be shown rotated by {rotation}°; only multiples of 90° are supported: "
            "re-export it upright (or turned by a multiple of 90°)"
        )
    return rotation, sample_pts


def _huge_still(path: Path) -> MediaInfo | None:
    """A still whose header declares more than MAX_PROBE_PIXELS, described from that header alone (FFmpeg
    would decode all of it to learn its size); None for anything else. Its EXIF rotation is not read."""
    try:
        declared = declared_size(path)
    except OSError:
        return None  # open_input says what is wrong with the file
    if declared is None or declared[1] * declared[2] <= MAX_PROBE_PIXELS:
        return None
    container, width, height = declared
    return MediaInfo(
        path=path,
        container=container,
        size_bytes=path.stat().st_size,
        is_image=True,
        width=width,
        height=height,
        rotation=0,
        fps=Fraction(25),
        time_base=Fraction(1, 25),
        frame_count=1,
        frame_count_exact=True,
        duration_s=0.0,
        video_codec=STILL_CODECS[container],
        pix_fmt="unknown",
        variable_frame_rate=False,
        start_pts=0,
        audio=None,
    )


def _frame_rate(stream: av.video.stream.VideoStream, sample_pts: list[int], time_base: Fraction) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return Fraction(rate)
    ordered = sorted(set(sample_pts))
    if len(ordered) >= 2:
        return Fraction(len(ordered) - 1) / ((ordered[-1] - ordered[0]) * time_base)
    return Fraction(25)  # a single still: any rate will do


def _duration(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, tb: Fraction
) -> float:
    if stream.duration:
        return float(stream.duration * tb)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _is_variable(sample_pts: list[int]) -> bool:
    """True when frame spacing varies by more than one tick (one tick is rounding, e.g. 23.976 in ms)."""
    ordered = sorted(set(sample_pts))
    steps = [b - a for a, b in itertools.pairwise(ordered)]
    return bool(steps) and max(steps) - min(steps) > 1


def _audio_info(container: av.container.InputContainer, video_duration_s: float) -> AudioInfo | None:
    for stream in container.streams.audio:
        if stream.codec_context is None:
            continue
        return audio_info_of(stream, container, video_duration_s)
    return None


def audio_info_of(
    stream: av.audio.stream.AudioStream, container: av.container.InputContainer, fallback_s: float
) -> AudioInfo:
    """AudioInfo of one audio stream."""
    ctx = stream.codec_context
    if stream.duration and stream.time_base:
        duration_s = float(stream.duration * stream.time_base)
    elif container.duration:
        duration_s = container.duration / av.time_base
    else:
        duration_s = fallback_s
    return AudioInfo(ctx.name, ctx.sample_rate, ctx.channels, duration_s)
