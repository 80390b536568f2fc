"""Trace context and dead letters through the real broker."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import get_current_span

from base.settings import Settings
from streams.admin import admin_client, ensure_topics
from streams.delivery import dead_letter_record, read_dead_letter, replay_headers
from streams.errors import PoisonMessage
from streams.headers import Headers, normalize
from streams.topics import dead_letter_topic
from streams.tracing import extract, inject

pytestmark = pytest.mark.integration


def _produce(settings: Settings, topic: str, value: bytes | None, headers: Headers) -> Message:
    delivered: list[Message] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        delivered.append(message)

    producer = Producer({**settings.kafka_config, "enable.idempotence": True})
    producer.produce(topic, value=value, key=b"job-1", headers=[*headers], on_delivery=on_delivery)
    assert producer.flush(10) == 0
    (message,) = delivered
    return message


def _read_at(settings: Settings, topic: str, partition: int, offset: int) -> Message:
    """The record at one exact offset: the topic may hold other tests' records."""
    consumer = Consumer({**settings.kafka_config, "group.id": f"test-{uuid.uuid4().hex}"})
    consumer.assign([TopicPartition(topic, partition, offset)])
    try:
        for _ in range(60):
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                return message
        raise AssertionError(f"nothing at {topic}[{partition}]@{offset}")
    finally:
        consumer.close()


def test_trace_context_survives_the_broker(infra: Settings, scratch_topic: str) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("submit") as span:
        headers = inject([("event-type", b"submit")])
    sent = _produce(infra, scratch_topic, b"{}", headers)

    received = _read_at(infra, scratch_topic, sent.partition() or 0, sent.offset() or 0)
    parent = get_current_span(extract(normalize(received.headers()))).get_span_context()
    assert parent.is_remote
    assert parent.trace_id == span.get_span_context().trace_id
    assert parent.span_id == span.get_span_context().span_id


def test_a_dead_letter_keeps_the_original_bytes_and_the_error(infra: Settings) -> None:
    dlq = dead_letter_topic("backdrop.stage.segment")
    ensure_topics(admin_client(infra), [dlq])
    original = b'{"job_id": "job-1", "chunk": \xff' + uuid.uuid4().bytes
    original_headers = [("traceparent", b"00-" + b"c" * 32 + b"-" + b"d" * 16 + b"-01")]
    error = PoisonMessage("the event does not parse", original)
    value, headers = dead_letter_record(
        original, original_headers, "backdrop.stage.segment", 5, 42, error, stage="segment", attempts=1
    )
    sent = _produce(infra, dlq.name, value, headers)

    received = _read_at(infra, dlq.name, sent.partition() or 0, sent.offset() or 0)
    received_headers = normalize(received.headers())
    assert received.value() == original
    assert received.key() == b"job-1"
    letter = read_dead_letter(received_headers)
    assert (letter.error_code, letter.stage, letter.source_topic) == (
        "poison_message",
        "segment",
        "backdrop.stage.segment",
    )
    assert (letter.source_partition, letter.source_offset) == (5, 42)
    assert replay_headers(received_headers) == original_headers
