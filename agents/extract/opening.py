"""Open a media file, turning every way it can fail into a typed input error that says what to do."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.container
import av.error
import av.video.stream
from av.codec.hwaccel import HWAccel

from base.errors import CorruptInput, InputEmpty, InputNotFound, UnsupportedInput

log = logging.getLogger(__name__)

REUPLOAD = "re-export or re-upload the file (a complete MP4, MOV, MKV, WebM, PNG, JPEG or WebP)"
# Opening a file decodes its first picture to learn its format. Pictures larger than this (8K UHD fits)
# are not decoded then: a header may claim any size, and the limits are checked only after opening.
MAX_PROBE_PIXELS = 1 << 25
# A decoder refuses a frame this many times larger than its stream declared (coded sizes are a little
# larger than display sizes), and never less than MIN_FRAME_CEILING pixels.
FRAME_SIZE_SLACK = 4
MIN_FRAME_CEILING = 1 << 20


def check_file(path: Path) -> int:
    """Return the file's size in bytes, or raise InputNotFound / InputEmpty."""
    if not path.exists():
        raise InputNotFound(f"{path} does not exist: check the path or upload the file again")
    if not path.is_file():
        raise InputNotFound(f"{path} is not a regular file: give the path of a video or image file")
    size = path.stat().st_size
    if size == 0:
        raise InputEmpty(f"{path} is empty (0 bytes): the upload or copy did not finish; {REUPLOAD}")
    return size


@contextmanager
def open_input(path: Path, accel: HWAccel | None = None) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading after checking it exists and is not empty; ``accel``: decode on a GPU
    (`agents.extract.accel.decoder_accel`)."""
    check_file(path)
    try:
        container = _open(path, accel)
    except PermissionError as exc:
        raise InputNotFound(f"{path} cannot be read ({exc.strerror}): check its permissions") from exc
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise CorruptInput(
            f"{path} is not a media file we can read, or its header is damaged or cut off ({exc}); {REUPLOAD}"
        ) from exc
    try:
        yield container
    finally:
        container.close()


def _open(path: Path, accel: HWAccel | None) -> av.container.InputContainer:
    # max_pixels reaches the decoders FFmpeg runs while opening (avformat_find_stream_info).
    options = {"max_pixels": str(MAX_PROBE_PIXELS)}
    if accel is not None:
        try:
            return av.open(str(path), "r", options=options, hwaccel=accel)
        except av.error.FFmpegError as exc:
            # The GPU, not the file, may be what failed (out of decoder sessions, say): the CPU decodes
            # it, and a file that is really damaged fails there with its own error.
            log.warning("%s opens on the CPU: decoding on the GPU did not start (%s)", path.name, exc)
    return av.open(str(path), "r", options=options)


def video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The main video stream (cover art does not count); UnsupportedInput if none, InputEmpty if no stream."""
    if not container.streams:
        raise InputEmpty(f"{path} holds no video, audio or anything else: the recording is empty; {REUPLOAD}")
    for stream in container.streams.video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        if stream.codec_context is None:
            raise UnsupportedInput(
                f"{path} holds video in a codec this build cannot decode; convert it to H.264 (MP4) first"
            )
        return stream
    raise UnsupportedInput(f"{path} has no video stream (audio or data only): give a video or an image file")


def guard_decoder(stream: av.video.stream.VideoStream, declared_pixels: int | None = None) -> None:
    """Make the stream's decoder refuse, before allocating it, a frame far larger than the stream declared
    (one frame of a video can claim 16000×16000 in a few bytes); call before the first decode.

    ``declared_pixels``: the size known otherwise (a still's own header), where FFmpeg's opening left the
    stream's size unknown because it was over MAX_PROBE_PIXELS.
    """
    ctx = stream.codec_context
    declared = declared_pixels or ctx.width * ctx.height
    ceiling = max(FRAME_SIZE_SLACK * declared, MIN_FRAME_CEILING) if declared else MAX_PROBE_PIXELS
    ctx.options = {**ctx.options, "max_pixels": str(ceiling)}
