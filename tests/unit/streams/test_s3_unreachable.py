from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from base.settings import Settings
from streams.errors import RetryableError
from streams.s3_store import S3Store, s3_store


@pytest.fixture
def closed_port() -> Iterator[int]:
    # Bound but never listening: connecting is refused at once, and no other process can take the port.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def store(closed_port: int) -> S3Store:
    return s3_store(Settings(s3_port=closed_port), bucket="any")


def test_an_unreachable_store_is_retryable_and_fails_fast(store: S3Store) -> None:
    started = time.monotonic()
    with pytest.raises(RetryableError, match="unreachable"):
        store.get_bytes("jobs/j1/x")
    with pytest.raises(RetryableError):
        store.put_bytes("jobs/j1/x", b"x")
    with pytest.raises(RetryableError):
        store.exists("jobs/j1/x")
    assert time.monotonic() - started < 10


def test_presigning_needs_no_server(store: S3Store, closed_port: int) -> None:
    url = store.url("jobs/j1/out.mp4")
    assert url.startswith(f"http://127.0.0.1:{closed_port}/any/jobs/j1/out.mp4?")
    assert "X-Amz-Signature=" in url
