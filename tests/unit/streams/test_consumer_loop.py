"""The shared consume loop against an in-memory consumer and producer: batching, redo, dead letters, close."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streams.consumer_loop import ConsumerLoop, redo_positions, usable
from streams.delivery import RetryPolicy, read_dead_letter
from streams.errors import RetryableError


@dataclass
class FakeMessage:
    _topic: str = "backdrop.stage.matte"
    _partition: int = 0
    _offset: int = 0
    _error: KafkaError | None = None
    _value: bytes | None = b"{}"

    def error(self) -> KafkaError | None:
        return self._error

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes:
        return b"job/3"

    def headers(self) -> list[tuple[str, bytes]]:
        return [("traceparent", b"00-abc")]


def eof() -> FakeMessage:
    return FakeMessage(_error=KafkaError(KafkaError._PARTITION_EOF))


@dataclass
class FakeConsumer:
    """Each scripted poll is what has arrived by then; records what the loop asks of it."""

    polls: list[list[FakeMessage]]
    calls: list[tuple[str, Any]] = field(default_factory=list)
    seek_fails: bool = False
    here: list[FakeMessage] = field(default_factory=list)

    def subscribe(self, topics: list[str], **callbacks: Callable[..., None]) -> None:
        self.calls.append(("subscribe", (topics, sorted(callbacks))))
        self.on_revoke = callbacks.get("on_revoke")

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        self.calls.append(("consume", (num_messages, timeout)))
        if not self.here and timeout > 0 and self.polls:
            self.here = self.polls.pop(0)
        taken, self.here = self.here[:num_messages], self.here[num_messages:]
        return taken

    def seek(self, position: TopicPartition) -> None:
        self.calls.append(("seek", (position.topic, position.partition, position.offset)))
        if self.seek_fails:
            raise KafkaException(KafkaError(KafkaError._STATE))

    def assignment(self) -> list[TopicPartition]:
        return []

    def close(self) -> None:
        self.calls.append(("close", None))


@dataclass
class FakeProducer:
    undelivered: int = 0
    produced: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def produce(self, topic: str, **record: Any) -> None:
        self.produced.append({"topic": topic, **record})

    def flush(self, timeout: float) -> int:
        self.calls.append("flush")
        return self.undelivered


def make_loop(
    polls: list[list[FakeMessage]], max_batch: int = 1, **options: Any
) -> tuple[ConsumerLoop, FakeConsumer, FakeProducer, list[float]]:
    consumer, producer, slept = FakeConsumer(polls), FakeProducer(), []
    ticks = iter(range(1_000_000))
    options.setdefault("clock", lambda: float(next(ticks)))
    # Asked of whichever consumer the test gives the loop.
    options.setdefault("ends", lambda tps: [loop.consumer.get_watermark_offsets(tp, timeout=5) for tp in tps])
    loop = ConsumerLoop(
        consumer,  # type: ignore[arg-type]
        producer,  # type: ignore[arg-type]
        name="matte",
        topics=("backdrop.stage.matte",),
        policy=RetryPolicy(base_delay_s=0.25, jitter=0.0),
        max_batch=max_batch,
        sleep=slept.append,
        **options,
    )
    return loop, consumer, producer, slept


def offsets(batch: list[Any]) -> list[int]:
    return [message.offset() for message in batch]


def test_usable_drops_broker_errors_and_warns_about_all_but_partition_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failed = FakeMessage(_error=KafkaError(KafkaError._TRANSPORT))
    kept = usable([FakeMessage(_offset=1), eof(), failed, FakeMessage(_offset=2)], "matte")  # type: ignore[list-item]
    assert offsets(kept) == [1, 2]
    assert [r.message for r in caplog.records] == [f"matte: consumer error {failed.error().str()}"]  # type: ignore[union-attr]


def test_redo_positions_are_each_partitions_first_offset() -> None:
    batch = [FakeMessage(_partition=1, _offset=7), FakeMessage(_partition=0, _offset=3)]
    batch += [FakeMessage(_partition=1, _offset=8), FakeMessage(_topic="backdrop.uploads", _offset=9)]
    positions = redo_positions(batch)  # type: ignore[arg-type]
    assert [(p.topic, p.partition, p.offset) for p in positions] == [
        ("backdrop.stage.matte", 1, 7),
        ("backdrop.stage.matte", 0, 3),
        ("backdrop.uploads", 0, 9),
    ]


def test_a_stage_worker_polls_one_message_at_a_time_until_max_messages() -> None:
    loop, consumer, producer, _ = make_loop([[FakeMessage(_offset=i)] for i in range(5)])
    seen: list[list[int]] = []
    loop.run(lambda batch: seen.append(offsets(batch)) or True, max_messages=3)
    assert seen == [[0], [1], [2]]
    assert {args for call, args in consumer.calls if call == "consume"} == {(1, 0.5)}
    assert consumer.calls[0] == ("subscribe", (["backdrop.stage.matte"], []))
    assert consumer.calls[-1] == ("close", None)
    assert producer.calls == ["flush"]


def test_a_batch_is_the_first_message_and_whatever_else_is_already_here() -> None:
    polls = [[FakeMessage(_offset=0), FakeMessage(_offset=1), eof(), FakeMessage(_offset=2)], []]
    loop, consumer, _, _ = make_loop(polls, max_batch=500, poll_timeout_s=0.2)
    seen: list[list[int]] = []
    loop.run(lambda batch: seen.append(offsets(batch)) or True, max_messages=3)
    assert seen == [[0, 1, 2]]
    assert [args for call, args in consumer.calls if call == "consume"][:2] == [(1, 0.2), (499, 0)]


def test_idle_polls_call_on_idle_and_end_after_idle_exit_s() -> None:
    now = [0.0]
    loop, _, _, _ = make_loop([[], [FakeMessage()], [], [], []], clock=lambda: now[0])
    idle: list[float] = []

    def tick() -> None:
        idle.append(now[0])
        now[0] += 1.0

    loop.run(lambda batch: True, idle_exit_s=1.5, on_idle=tick)
    # The message at t=1 restarts the idle clock: the loop ends on the second idle poll after it.
    assert idle == [0.0, 1.0, 2.0]


def test_a_retryable_error_waits_seeks_back_and_redoes_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    message = FakeMessage(_partition=4, _offset=17)
    loop, consumer, _, slept = make_loop([[message], [message]])
    attempts: list[int] = []

    def process(batch: list[Any]) -> bool:
        attempts.append(batch[0].offset())
        if len(attempts) == 1:
            raise RetryableError("S3 is unreachable")
        return True

    loop.run(process, max_messages=1)
    assert attempts == [17, 17]
    assert slept == [0.25]  # the policy's first delay
    assert ("seek", ("backdrop.stage.matte", 4, 17)) in consumer.calls
    assert "matte: S3 is unreachable; redoing the message" in caplog.messages


def test_a_failed_seek_is_left_to_the_partitions_next_owner(caplog: pytest.LogCaptureFixture) -> None:
    loop, consumer, _, _ = make_loop([[FakeMessage()]])
    consumer.seek_fails = True
    calls = [0]

    def process(batch: list[Any]) -> bool:
        calls[0] += 1
        raise RetryableError("Kafka is away")

    loop.run(process, idle_exit_s=0.0)
    assert calls == [1]
    assert any("seek failed" in text for text in caplog.messages)


def test_stopping_during_a_retryable_error_leaves_the_batch_and_closes() -> None:
    loop, consumer, producer, slept = make_loop([[FakeMessage()], [FakeMessage()]])
    closed: list[str] = []

    def process(batch: list[Any]) -> bool:
        loop.stopping.set()
        raise RetryableError("shutting down mid-flush")

    loop.run(process, on_close=lambda: closed.append("on_close"))
    assert slept == []
    assert not any(call == "seek" for call, _ in consumer.calls)
    assert closed == ["on_close"]
    assert consumer.calls[-1] == ("close", None)
    assert producer.calls == ["flush"]


def test_process_returning_false_stops_the_loop() -> None:
    loop, _, _, _ = make_loop([[FakeMessage(_offset=0)], [FakeMessage(_offset=1)]])
    seen: list[list[int]] = []
    loop.run(lambda batch: seen.append(offsets(batch)) and False)
    assert seen == [[0]]


def test_close_happens_even_when_on_close_fails() -> None:
    loop, consumer, producer, _ = make_loop([])

    def on_close() -> None:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    with pytest.raises(KafkaException):
        loop.run(lambda batch: True, idle_exit_s=0.0, on_close=on_close)
    assert consumer.calls[-1] == ("close", None)
    assert producer.calls == ["flush"]


def test_on_revoke_is_handed_the_partitions() -> None:
    loop, consumer, _, _ = make_loop([])
    revoked: list[list[TopicPartition]] = []
    loop.run(lambda batch: True, idle_exit_s=0.0, on_revoke=revoked.append)
    assert consumer.calls[0] == ("subscribe", (["backdrop.stage.matte"], ["on_revoke"]))
    consumer.on_revoke(consumer, [TopicPartition("backdrop.jobs", 2)])  # type: ignore[misc]
    assert [(tp.topic, tp.partition) for tp in revoked[0]] == [("backdrop.jobs", 2)]


def test_dead_letter_keeps_the_record_and_adds_the_error() -> None:
    loop, _, producer, _ = make_loop([])
    loop.dead_letter(FakeMessage(_partition=2, _offset=40, _value=b"not json"), ValueError("bad"), attempts=3)  # type: ignore[arg-type]
    (record,) = producer.produced
    assert (record["topic"], record["value"], record["key"]) == ("backdrop.dlq.matte", b"not json", b"job/3")
    assert record["headers"][0] == ("traceparent", b"00-abc")
    letter = read_dead_letter(record["headers"])
    assert (letter.stage, letter.source_partition, letter.source_offset) == ("matte", 2, 40)
    assert letter.attempts == 3
    assert producer.calls == ["flush"]


def test_an_undelivered_flush_is_retryable() -> None:
    loop, _, producer, _ = make_loop([])
    producer.undelivered = 2
    with pytest.raises(RetryableError, match="2 events not delivered"):
        loop.flush()


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        make_loop([], max_batch=0)


def test_the_default_wait_before_a_redo_ends_when_stopping() -> None:
    consumer, producer = FakeConsumer([[FakeMessage()]]), FakeProducer()
    loop = ConsumerLoop(
        consumer,  # type: ignore[arg-type]
        producer,  # type: ignore[arg-type]
        name="projector",
        topics=("backdrop.jobs",),
        policy=RetryPolicy(base_delay_s=30.0, max_delay_s=30.0, jitter=0.0),
        ends=lambda tps: [],
    )
    loop.stopping.set()  # a 30 s wait returns at once: the loop would not have waited out a stop
    assert loop.sleep(30.0) is True
