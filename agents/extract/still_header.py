"""The picture size a PNG, JPEG or WebP header declares, read without decoding anything.

FFmpeg learns a still's size only by decoding the whole picture: a decompression bomb (a 16000×16000 PNG
in 250 kB) would cost hundreds of MB before any limit is checked, and a header claiming more than FFmpeg
accepts (100000×100000) tells it nothing at all, so the upload would look corrupt instead of too large.
"""

from __future__ import annotations

import struct
from pathlib import Path

# EXIF (APP1) and colour profiles come before a JPEG's frame header; 256 kB covers them in practice.
HEAD_BYTES = 256 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers: every JPEG coding process except DHT (C4), JPG (C8) and DAC (CC).
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD9)})  # no length field follows
JPEG_START_OF_SCAN = 0xDA


def declared_size(path: Path) -> tuple[str, int, int] | None:
    """(FFmpeg's format name, width, height as stored) of a PNG, JPEG or WebP; None for anything else."""
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    if head.startswith(PNG_SIGNATURE) and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack_from(">II", head, 16)
        return "png_pipe", width, height
    if head.startswith(b"\xff\xd8"):
        size = _jpeg_size(head)
        return ("jpeg_pipe", *size) if size else None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        size = _webp_size(head)
        return ("webp_pipe", *size) if size else None
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    at = 2  # after the start-of-image marker
    while at + 4 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in JPEG_STANDALONE_MARKERS:
            at += 2
            continue
        if marker in JPEG_FRAME_MARKERS and at + 9 <= len(head):
            height, width = struct.unpack_from(">HH", head, at + 5)  # after length (2) and precision (1)
            return width, height
        if marker == JPEG_START_OF_SCAN:
            return None
        (length,) = struct.unpack_from(">H", head, at + 2)
        at += 2 + length
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:  # extended: the canvas, 24-bit sizes minus one
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":  # lossy key frame
        width, height = struct.unpack_from("<HH", head, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:  # lossless: 14-bit sizes minus one
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
