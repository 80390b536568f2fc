"""Kafka record headers as Backdrop passes them around: ``list[tuple[str, bytes]]``, in order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Headers = list[tuple[str, bytes]]
# What the clients hand back: confluent-kafka gives None for no headers and may give None values;
# aiokafka gives a tuple of pairs. A mapping is accepted too, as confluent-kafka's producer does.
RawHeaders = Iterable[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None] | None


def normalize(raw: RawHeaders) -> Headers:
    """Any client's headers as a fresh list of ``(str, bytes)``; a missing value becomes ``b""``."""
    if raw is None:
        return []
    pairs = raw.items() if isinstance(raw, Mapping) else raw
    return [(name, value.encode() if isinstance(value, str) else value or b"") for name, value in pairs]


def get_header(headers: Headers, name: str) -> bytes | None:
    """The value of ``name``; Kafka allows repeats, and the last one wins (it was set latest)."""
    for key, value in reversed(headers):
        if key == name:
            return value
    return None


def get_text(headers: Headers, name: str) -> str | None:
    """The value of ``name`` as UTF-8 text (undecodable bytes replaced, never an error)."""
    value = get_header(headers, name)
    return None if value is None else value.decode("utf-8", errors="replace")


def set_header(headers: Headers, name: str, value: bytes | str) -> Headers:
    """A new list with every ``name`` header replaced by one ``value`` at the end; the input is untouched."""
    encoded = value.encode() if isinstance(value, str) else value
    return [(key, old) for key, old in headers if key != name] + [(name, encoded)]
