"""Encode stage core: stream frames into MP4, MOV, WebM or PNG sequences with the source timing and audio."""

from agents.encode.formats import OutputFormat, output_format
from agents.encode.images import write_image, write_poster
from agents.encode.join import join_segments
from agents.encode.writer import VideoWriter

__all__ = [
    "OutputFormat",
    "VideoWriter",
    "join_segments",
    "output_format",
    "write_image",
    "write_poster",
]
