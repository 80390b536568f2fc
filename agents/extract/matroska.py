"""Where a Matroska (MKV, WebM) file says it ends: its Segment element records its own length.

FFmpeg reads a Matroska file cut off mid-cluster without an error and simply stops at the last whole
frame, so a truncated upload would quietly lose its last frames. A muxer that can seek (FFmpeg, mkvmerge,
OBS) writes the Segment's size when it finishes; a file shorter than that size was cut off.
"""

from __future__ import annotations

from pathlib import Path

EBML_ID = 0x1A45DFA3
SEGMENT_ID = 0x18538067
HEAD_BYTES = 1024  # the EBML header is a few dozen bytes; the Segment's size follows it


def segment_end(path: Path) -> int | None:
    """The file size the Segment declares; None: not Matroska, or written live (size unknown)."""
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    at, expected = 0, EBML_ID
    while at < len(head):
        element_id, at = _vint(head, at, keep_marker=True)
        start = at
        size, at = _vint(head, at)
        if element_id != expected or size < 0:
            return None
        if element_id == SEGMENT_ID:
            unknown = (1 << (7 * (at - start))) - 1  # every value bit set: "size unknown"
            return None if size == unknown else at + size
        at += size
        expected = SEGMENT_ID
    return None


def _vint(data: bytes, at: int, keep_marker: bool = False) -> tuple[int, int]:
    """An EBML variable-length integer at ``at``: (value, offset after it); (-1, len(data)) when malformed."""
    if at >= len(data) or data[at] == 0:
        return -1, len(data)
    length = 9 - data[at].bit_length()  # leading zero bits + 1
    if at + length > len(data):
        return -1, len(data)
    value = data[at] if keep_marker else data[at] & ((0x80 >> (length - 1)) - 1)
    for byte in data[at + 1 : at + length]:
        value = (value << 8) | byte
    return value, at + length
