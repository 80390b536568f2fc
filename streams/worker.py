"""One stage worker: consume, do the work, store outputs, publish the next events, then commit.

At-least-once with idempotent effects: the offset is committed only after the outputs are stored and
the next events are flushed to the broker. A worker killed at any point redoes the message; outputs go
to deterministic object keys (a redo overwrites) and events carry deterministic ids (consumers dedupe).

Failure classes, each handled here and nowhere else:
- the bytes are not a valid event (``PoisonMessage``): dead-letter, commit, move on;
- the job's input cannot be processed (``InputError``, e.g. a corrupt upload): publish ``failed`` for
  that job, commit, move on — other jobs are untouched;
- something transient (``RetryableError``: S3 or Kafka unreachable): back off and retry in place;
- anything else after ``RetryPolicy.max_attempts`` tries: dead-letter with the error, fail the job,
  commit, move on. The worker never exits because of one message.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from opentelemetry import trace
from pydantic import BaseModel

from backdrop.errors import BackdropError, InputError
from backdrop.settings import Settings
from schemas import JobFailed
from streams.codec import encode
from streams.delivery import RetryPolicy, dead_letter_record, error_code
from streams.errors import PoisonMessage, RetryableError
from streams.headers import Headers, normalize
from streams.topics import JOBS, dead_letter_topic
from streams.tracing import inject, stage_span

log = logging.getLogger("backdrop.worker")
# Event ids derive from what they describe, so a redone message publishes the same ids again.
EVENT_NAMESPACE = uuid.UUID("6f1d8c5e-3a4b-4c1e-9d7a-5b2f0e8c4a11")


def event_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, "/".join(str(p) for p in parts))


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: str
    event: BaseModel


@dataclass
class Handled:
    """What one message produced, in publish order."""

    events: list[Outgoing] = field(default_factory=list)


class StageHandler(Protocol):
    @property
    def stage(self) -> str:
        """The stage's name; its consumer group is ``backdrop-<stage>``."""
        ...

    @property
    def topics(self) -> Sequence[str]:
        """The topics it consumes."""
        ...

    def decode(self, topic: str, value: bytes | None) -> Any:
        """The event in ``value``; raises PoisonMessage when it is not one."""
        ...

    def handle(self, event: Any) -> Handled:
        """Do the stage's work for ``event``; outputs are stored before this returns."""
        ...


def consumer_config(settings: Settings, group: str) -> dict[str, object]:
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        # A killed worker's partitions move to the others after this long without heartbeats.
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1500,
        # The longest chunk must finish between two polls (heartbeats run on librdkafka's own thread).
        "max.poll.interval.ms": 900_000,
        "log_level": 3,
    }


def producer_config(settings: Settings) -> dict[str, object]:
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "log_level": 3,
    }


class Worker:
    """The consume → handle → publish → commit loop for one stage handler."""

    def __init__(
        self,
        handler: StageHandler,
        settings: Settings,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        cancelled: Callable[[str], bool] | None = None,
    ) -> None:
        """``cancelled(job_id)`` says whether a job was cancelled: its messages are committed undone."""
        self.handler, self.settings = handler, settings
        self.policy = policy or RetryPolicy()
        self.cancelled = cancelled
        self.sleep = sleep
        self.stopping = threading.Event()
        self.tracer = trace.get_tracer("backdrop.worker")
        self.consumer = Consumer(consumer_config(settings, f"backdrop-{handler.stage}"))
        self.producer = Producer(producer_config(settings))

    def install_signal_handlers(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self, max_messages: int | None = None) -> None:
        """Until stopped (SIGTERM/SIGINT) or ``max_messages`` were handled; finishes the current one."""
        self.consumer.subscribe(list(self.handler.topics))
        handled = 0
        try:
            while not self.stopping.is_set() and (max_messages is None or handled < max_messages):
                message = self.consumer.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("%s: consumer error %s", self.handler.stage, error.str())
                    continue
                try:
                    self._process(message)
                except RetryableError as exc:
                    if self.stopping.is_set():
                        break
                    # Kafka or S3 unreachable after the work: read the message again and redo it.
                    log.warning("%s: %s; redoing the message", self.handler.stage, exc)
                    self.sleep(self.policy.delay(1))
                    try:
                        self.consumer.seek(
                            TopicPartition(
                                message.topic() or "", message.partition() or 0, message.offset() or 0
                            )
                        )
                    except KafkaException as seek_error:
                        # The partition moved to another worker meanwhile: that worker redoes the message.
                        log.warning("%s: seek failed (%s)", self.handler.stage, seek_error)
                    continue
                handled += 1
        finally:
            self.consumer.close()
            self.producer.flush(30)

    def _process(self, message: Message) -> None:
        topic, value = message.topic() or "", message.value()
        headers = normalize(message.headers())
        try:
            event = self.handler.decode(topic, value)
        except PoisonMessage as exc:
            self._dead_letter(message, headers, exc, attempts=1)
            self._commit(message)
            return
        job_id = getattr(event, "job_id", None)
        if job_id is not None and self.cancelled is not None and self.cancelled(job_id):
            log.info(
                "%s: job %s was cancelled; skipping offset %s", self.handler.stage, job_id, message.offset()
            )
            self._commit(message)
            return
        with stage_span(
            self.tracer,
            self.handler.stage,
            job_id or "",
            getattr(getattr(event, "chunk", None), "index", None),
            headers,
            topic=topic,
            partition=message.partition(),
            offset=message.offset(),
            consumer_group=f"backdrop-{self.handler.stage}",
        ):
            outcome = self._attempt(message, headers, event, job_id)
        if outcome is not None:
            self._publish(outcome.events)
        # Logged before the commit: a message committed is always in the log (one killed in between is
        # redone, and logged again by whoever redoes it).
        log.info(
            "%s: handled %s job=%s chunk=%s partition=%s offset=%s",
            self.handler.stage,
            type(event).__name__,
            job_id,
            getattr(getattr(event, "chunk", None), "index", "-"),
            message.partition(),
            message.offset(),
        )
        self._commit(message)

    def _attempt(self, message: Message, headers: Headers, event: Any, job_id: str | None) -> Handled | None:
        """Handled events, or None when the job failed / the message was dead-lettered (already published)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.handler.handle(event)
            except InputError as exc:
                log.info("%s: job %s failed: %s", self.handler.stage, job_id, exc.message)
                self._fail_job(job_id, exc.code, exc.message, message)
                return None
            except RetryableError as exc:
                if self.stopping.is_set():
                    raise  # shutting down: leave the message uncommitted, another worker redoes it
                if attempt < self.policy.max_attempts:
                    delay = self.policy.delay(attempt)
                    log.warning("%s: retry %d in %.1fs: %s", self.handler.stage, attempt, delay, exc)
                    self.sleep(delay)
                    continue
                self._give_up(message, headers, exc, attempt, job_id)
                return None
            except (KafkaException, BackdropError, Exception) as exc:
                if attempt < self.policy.max_attempts and not self.stopping.is_set():
                    log.exception("%s: attempt %d failed", self.handler.stage, attempt)
                    self.sleep(self.policy.delay(attempt))
                    continue
                self._give_up(message, headers, exc, attempt, job_id)
                return None

    def _give_up(
        self, message: Message, headers: Headers, exc: BaseException, attempts: int, job_id: str | None
    ) -> None:
        self._dead_letter(message, headers, exc, attempts)
        self._fail_job(
            job_id,
            error_code(exc),
            f"the {self.handler.stage} stage failed {attempts} times ({exc}); the event was dead-lettered "
            "for an operator to inspect and replay",
            message,
        )

    def _fail_job(self, job_id: str | None, code: str, text: str, message: Message) -> None:
        if job_id is None:
            return
        failed = JobFailed(
            event_type="failed",
            event_id=event_id(job_id, "failed", self.handler.stage, message.topic(), message.offset()),
            job_id=job_id,
            code=code,
            message=text,
            stage=self.handler.stage,
        )
        self._publish([Outgoing(JOBS.name, job_id, failed)])

    def _dead_letter(self, message: Message, headers: Headers, exc: BaseException, attempts: int) -> None:
        topic = message.topic() or ""
        value, dl_headers = dead_letter_record(
            message.value(),
            headers,
            topic,
            message.partition() or 0,
            message.offset() or 0,
            exc,
            stage=self.handler.stage,
            attempts=attempts,
        )
        self.producer.produce(
            dead_letter_topic(topic).name, value=value, key=message.key(), headers=_wire(dl_headers)
        )
        self._flush()

    def _publish(self, events: list[Outgoing]) -> None:
        for out in events:
            self.producer.produce(
                out.topic, value=encode(out.event), key=out.key.encode(), headers=_wire(inject([]))
            )
        self._flush()

    def _flush(self) -> None:
        remaining = self.producer.flush(30)
        if remaining:
            # Not delivered: do not commit; the message is redone after a restart or rebalance.
            raise RetryableError(f"{remaining} events not delivered to Kafka within 30 s")

    def _commit(self, message: Message) -> None:
        try:
            self.consumer.commit(message=message, asynchronous=False)
        except KafkaException as exc:
            # Lost the partition in a rebalance: the next owner redoes the message; effects are idempotent.
            log.warning("%s: commit failed (%s); the message will be redone", self.handler.stage, exc)


def _wire(headers: Headers) -> list[tuple[str, str | bytes | None]]:
    """Our headers in the type confluent-kafka's stubs ask for."""
    return [(name, value) for name, value in headers]
