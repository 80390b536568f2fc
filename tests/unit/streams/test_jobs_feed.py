"""Typed ``backdrop.jobs`` events for downstream consumers: known types parsed, the rest skipped."""

from __future__ import annotations

import logging

import orjson
import pytest

from schemas import JobFailed
from streams.codec import encode
from streams.faust_jobs import LifecycleCodec
from streams.jobs_feed import read_lifecycle


def test_a_known_event_comes_back_typed_through_the_faust_codec_too() -> None:
    failed = JobFailed(event_type="failed", job_id="job_12345678", code="input_corrupt", message="truncated")
    assert read_lifecycle(encode(failed)) == failed
    codec = LifecycleCodec()
    assert codec.loads(codec.dumps(failed)) == failed


def test_a_new_event_type_is_skipped_quietly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert read_lifecycle(orjson.dumps({"event_type": "archived", "job_id": "job_12345678"})) is None
    assert caplog.records == []


@pytest.mark.parametrize("record", [b"not json", b"", None, b'{"event_type": "completed", "job_id": "j"}'])
def test_a_record_that_is_no_event_is_skipped_with_a_warning(
    record: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert read_lifecycle(record) is None
    assert "no lifecycle event" in caplog.text
