"""Open a media file, turning every way it can fail into a typed input error that says what to do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.container
import av.error
import av.video.stream

from base.errors import CorruptInput, InputEmpty, InputNotFound, UnsupportedInput

REUPLOAD = "re-export or re-upload the file (a complete MP4, MOV, MKV, WebM, PNG, JPEG or WebP)"


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
def open_input(path: Path) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading after checking it exists and is not empty."""
    check_file(path)
    try:
        container = av.open(str(path), "r")
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


def video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The main video stream (cover art does not count), or UnsupportedInput."""
    for stream in container.streams.video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        if stream.codec_context is None:
            raise UnsupportedInput(
                f"{path} holds video in a codec this build cannot decode; convert it to H.264 (MP4) first"
            )
        return stream
    raise UnsupportedInput(f"{path} has no video stream (audio or data only): give a video or an image file")
