"""Job-list cursors: what the API hands out decodes back; anything else is refused."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from api.readmodel import MAX_BIGINT, decode_cursor, encode_cursor, get_job


@pytest.mark.parametrize("seq", [0, 1, 41, 10**12, MAX_BIGINT])
def test_cursor_round_trip(seq: int) -> None:
    cursor = encode_cursor(seq)
    assert "=" not in cursor  # it goes into a query string as is
    assert decode_cursor(cursor) == seq


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!!",
        "\x00",
        _b64(b"x12"),
        _b64(b"s"),
        _b64(b"s-1"),
        _b64(b"s 1"),
        _b64("s²".encode()),  # a digit to str.isdigit, not to int()
        _b64(b"\xff\xfe"),
        _b64(f"s{MAX_BIGINT + 1}".encode()),  # past PostgreSQL's bigint
    ],
)
def test_garbage_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        decode_cursor(cursor)


class _NoQueries:
    async def execute(self, *_: Any) -> None:
        raise AssertionError("an id no job can have must not reach PostgreSQL")


@pytest.mark.parametrize("job_id", ["job_\x00abcdef", "job", "job_a/b_cdef", "j" * 65])
def test_an_id_no_job_can_have_is_not_queried(job_id: str) -> None:
    conn = cast(AsyncConnection, _NoQueries())
    assert asyncio.run(get_job(conn, job_id, "key_abc")) is None
