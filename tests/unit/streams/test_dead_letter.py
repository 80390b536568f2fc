from __future__ import annotations

from datetime import UTC, datetime

import pytest

from base.errors import CorruptInput
from streams.delivery import dead_letter_record, read_dead_letter, replay_headers
from streams.errors import PoisonMessage
from streams.headers import get_text

ORIGINAL = b'{"job_id": "j1", "chunk": 3, \xff not json'
HEADERS = [("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"), ("event-type", b"chunk")]
AT = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def test_value_is_the_original_bytes_and_headers_say_why() -> None:
    error = PoisonMessage("the event does not parse", ORIGINAL)
    value, headers = dead_letter_record(
        ORIGINAL, HEADERS, "backdrop.stage.segment", 7, 1234, error, stage="segment", attempts=1, now=AT
    )
    assert value is ORIGINAL
    assert headers[:2] == HEADERS
    letter = read_dead_letter(headers)
    assert letter.error_code == "poison_message"
    assert letter.error_message == "the event does not parse"
    assert letter.error_type == "streams.errors.PoisonMessage"
    assert (letter.stage, letter.source_topic, letter.source_partition, letter.source_offset) == (
        "segment",
        "backdrop.stage.segment",
        7,
        1234,
    )
    assert letter.dead_lettered_at == AT
    assert get_text(headers, "backdrop-dead-lettered-at") == "2026-03-04T05:06:07.890+00:00"


def test_replay_headers_are_the_original_headers() -> None:
    _, headers = dead_letter_record(b"v", HEADERS, "t", 0, 0, CorruptInput("bad"), stage="extract")
    assert replay_headers(headers) == HEADERS


def test_a_second_failure_replaces_the_first_reason() -> None:
    _, first = dead_letter_record(b"v", HEADERS, "t", 0, 5, CorruptInput("first"), stage="extract")
    _, second = dead_letter_record(
        b"v", first, "t", 1, 9, RuntimeError("second"), stage="extract", attempts=5
    )
    letter = read_dead_letter(second)
    assert (letter.error_code, letter.error_message, letter.source_offset, letter.attempts) == (
        "internal_error",
        "second",
        9,
        5,
    )
    assert len(second) == len(first)


def test_a_huge_message_is_cut_to_fit_a_header() -> None:
    _, headers = dead_letter_record(None, [], "t", 0, 0, ValueError("é" * 10_000), stage="score")
    message = get_text(headers, "backdrop-error-message") or ""
    assert 0 < len(message.encode()) <= 4096
    assert set(message) == {"é"}


def test_reading_an_ordinary_record_says_so() -> None:
    with pytest.raises(ValueError, match="not a dead-letter record"):
        read_dead_letter(HEADERS)


def _raised(error: Exception) -> Exception:
    try:
        raise error
    except Exception as caught:
        return caught


def test_a_bug_carries_its_traceback_and_our_errors_do_not() -> None:
    _, bug = dead_letter_record(b"v", [], "t", 0, 0, _raised(KeyError("frames")), stage="matte")
    trace = get_text(bug, "backdrop-error-traceback") or ""
    assert "Traceback (most recent call last)" in trace
    assert "_raised" in trace
    assert trace.rstrip().endswith("KeyError: 'frames'")
    _, ours = dead_letter_record(b"v", [], "t", 0, 0, _raised(CorruptInput("bad")), stage="matte")
    assert get_text(ours, "backdrop-error-traceback") is None
    assert "backdrop-error-traceback" not in dict(replay_headers(bug))


def test_a_dead_letter_reference_is_topic_partition_offset() -> None:
    from streams.dead_letters import parse_ref

    assert parse_ref("backdrop.dlq.segment:2:17") == ("backdrop.dlq.segment", 2, 17)
    for bad in ("backdrop.dlq.segment:2", "backdrop.dlq.segment:x:1", ":1:2", "17"):
        with pytest.raises(ValueError, match="TOPIC:PARTITION:OFFSET"):
            parse_ref(bad)


def test_the_dead_letter_topics_of_a_stages_inputs_are_each_named_once() -> None:
    from streams.dead_letters import dead_letter_topics

    inputs = ["backdrop.uploads", "backdrop.storage.events", "backdrop.stage.extract"]
    assert dead_letter_topics(inputs) == ["backdrop.dlq.uploads", "backdrop.dlq.extract"]
