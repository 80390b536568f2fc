"""The stage worker on the shared loop, in memory: publish, log 'handled', then commit; failures by class."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

import streams.consumer_loop
import streams.worker
from base.errors import CorruptInput
from base.settings import Settings
from schemas import StageProgress
from streams.errors import PoisonMessage, RetryableError
from streams.headers import Headers
from streams.worker import Handled, Outgoing, Worker
from tests.unit.streams.test_consumer_loop import FakeConsumer, FakeMessage, FakeProducer


@dataclass(frozen=True)
class Task:
    job_id: str
    fails_with: Exception | None = None


class Handler:
    """Decodes b'poison' as a poison message, anything else as a task of the job the bytes name."""

    stage = "matte"
    topics = ("backdrop.stage.matte",)

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.failures = failures or []

    def decode(self, topic: str, value: bytes | None, headers: Headers) -> Task:
        if value == b"poison":
            raise PoisonMessage("not an event", value)
        return Task((value or b"").decode())

    def handle(self, event: Task) -> Handled:
        if self.failures:
            raise self.failures.pop(0)
        progress = StageProgress(
            event_type="stage_progress", job_id=event.job_id, stage="matte", chunks_done=1, chunks_total=2
        )
        return Handled([Outgoing("backdrop.jobs", event.job_id, progress)])


class Timeline(logging.Handler):
    """One list of what happened, in order: produce, flush, the 'handled' log line, commit."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if " handled " in record.getMessage():
            self.events.append("log handled")


class RecordingConsumer(FakeConsumer):
    timeline: list[str]

    def commit(self, *, message: Any, asynchronous: bool) -> None:
        self.timeline.append(f"commit {message.offset()}")


class RecordingProducer(FakeProducer):
    timeline: list[str]

    def produce(self, topic: str, **record: Any) -> None:
        super().produce(topic, **record)
        self.timeline.append(f"produce {topic}")

    def flush(self, timeout: float) -> int:
        self.timeline.append("flush")
        return super().flush(timeout)


def run_worker(
    monkeypatch: pytest.MonkeyPatch,
    values: list[bytes],
    handler: Handler,
    stopped: set[str] | None = None,
) -> tuple[list[str], RecordingProducer]:
    timeline = Timeline()
    consumer = RecordingConsumer([[FakeMessage(_offset=i, _value=v)] for i, v in enumerate(values)])
    producer = RecordingProducer()
    consumer.timeline = producer.timeline = timeline.events
    monkeypatch.setattr(streams.consumer_loop, "kafka_clients", lambda settings, group: (consumer, producer))
    logger, level = logging.getLogger("backdrop.worker"), logging.getLogger("backdrop.worker").level
    logger.addHandler(timeline)
    logger.setLevel(logging.INFO)
    is_stopped = (stopped or set()).__contains__
    try:
        Worker(handler, Settings(), sleep=lambda _: None, stopped=is_stopped).run(max_messages=len(values))
    finally:
        logger.removeHandler(timeline)
        logger.setLevel(level)
    return timeline.events, producer


def test_events_are_flushed_and_logged_before_the_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = run_worker(monkeypatch, [b"job_aaaaaaaa"], Handler())
    assert events[:4] == ["produce backdrop.jobs", "flush", "log handled", "commit 0"]


def test_a_poison_message_is_dead_lettered_then_committed(monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = run_worker(monkeypatch, [b"poison"], Handler())
    assert events[:3] == ["produce backdrop.dlq.matte", "flush", "commit 0"]


def test_a_stopped_job_is_committed_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    events, producer = run_worker(monkeypatch, [b"job_cancelled"], Handler(), stopped={"job_cancelled"})
    assert events[0] == "commit 0"
    assert producer.produced == []


def test_an_input_error_fails_the_job_and_moves_on(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = Handler([CorruptInput("the upload is truncated; upload it again")])
    events, producer = run_worker(monkeypatch, [b"job_bbbbbbbb"], handler)
    assert events[:4] == ["produce backdrop.jobs", "flush", "log handled", "commit 0"]
    assert b'"event_type":"failed"' in producer.produced[0]["value"]


def test_a_transient_failure_is_retried_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = Handler([RetryableError("S3 is away"), RetryableError("S3 is still away")])
    events, producer = run_worker(monkeypatch, [b"job_cccccccc"], handler)
    assert events[:4] == ["produce backdrop.jobs", "flush", "log handled", "commit 0"]
    assert b'"event_type":"stage_progress"' in producer.produced[0]["value"]
