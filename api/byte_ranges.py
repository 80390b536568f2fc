"""HTTP byte ranges (RFC 9110 §14): the one range a media element asks for when it seeks."""

from __future__ import annotations


class UnsatisfiableRange(ValueError):
    """The range lies wholly past the end of the object (answered with 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive for a single ``bytes=`` range, or None to send the whole object
    (no header, a malformed one, or several ranges: the RFC lets a server ignore those)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first_text, dash, last_text = header.removeprefix("bytes=").strip().partition("-")
    if not dash or not (first_text + last_text).isdigit():
        return None
    if not first_text:  # a suffix: the last N bytes
        length = int(last_text)
        if length == 0:
            raise UnsatisfiableRange(header)
        return max(size - length, 0), size - 1
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if first > last:
        if first >= size:
            raise UnsatisfiableRange(header)
        return None
    return first, last
