"""``backdrop worker projector``: ``backdrop.jobs`` (and submits on ``backdrop.uploads``) → PostgreSQL.

Offsets are committed only after the events' transaction commits, and the projection is idempotent by
event id, so a crash or a replay of the topic changes nothing. While PostgreSQL is down it retries in
place and catches up when it returns.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError

from api.projection import project_event, project_submit
from backdrop.settings import Settings
from schemas import LIFECYCLE_ADAPTER, SUBMIT_ADAPTER, SubmitJob
from streams.codec import decode
from streams.delivery import RetryPolicy, dead_letter_record
from streams.errors import PoisonMessage, RetryableError
from streams.headers import normalize
from streams.topics import JOBS, UPLOADS, dead_letter_topic
from streams.worker import consumer_config, producer_config

log = logging.getLogger("backdrop.projector")
# Events applied per transaction at most; a burst beyond it is several batches back to back.
BATCH = 500


def projection_engine(settings: Settings) -> Engine:
    return create_engine(settings.postgres_dsn, pool_pre_ping=True, pool_size=2)


class ProjectorHandler:
    """What the projector reads and how it applies it; ``BatchProjector`` runs it."""

    topics = (JOBS.name, UPLOADS.name)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def decode(self, topic: str, value: bytes | None) -> Any:
        if topic == UPLOADS.name:
            try:
                return decode(value, SUBMIT_ADAPTER)
            except PoisonMessage:
                return None  # the extract stage dead-letters bad submits; one copy is enough
        return decode(value, LIFECYCLE_ADAPTER)

    def apply(self, events: list[Any]) -> None:
        """Project ``events`` in order, in one transaction; RetryableError while PostgreSQL is away."""
        try:
            with self.engine.begin() as conn:
                for event in events:
                    if event is None:
                        continue
                    if isinstance(event, SubmitJob):
                        project_submit(conn, event)
                    else:
                        project_event(conn, event)
        except DBAPIError as exc:
            if exc.connection_invalidated or _is_unavailable(exc):
                raise RetryableError(f"PostgreSQL is unavailable ({exc.orig}); retrying") from exc
            raise


class BatchProjector:
    """``backdrop worker projector``: whatever has arrived, up to BATCH events, in one transaction.

    One commit per batch instead of per event keeps the read model (and SSE) close behind a busy
    topic; an idle topic still gets each event applied as soon as it arrives. Offsets are committed
    only after the batch's transaction, so a crash redoes the batch, which changes nothing.
    """

    def __init__(
        self, handler: ProjectorHandler, settings: Settings, group: str = "backdrop-projector"
    ) -> None:
        self.handler = handler
        self.consumer = Consumer(consumer_config(settings, group))
        self.producer = Producer(producer_config(settings))
        self.stopping = threading.Event()
        self.policy = RetryPolicy(max_attempts=5, max_delay_s=5.0)

    def install_signal_handlers(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self, idle_exit_s: float | None = None) -> None:
        """Until stopped, or (tests) until nothing arrived for ``idle_exit_s``."""
        self.consumer.subscribe(list(self.handler.topics))
        idle_since = time.monotonic()
        all_applied = True
        try:
            while not self.stopping.is_set():
                # Wait for one message, then take whatever else is already here: consume(BATCH, t) would
                # wait out all of t for a full batch, adding t to every event's latency on a quiet topic.
                first = self.consumer.consume(1, 0.2)
                batch = first + self.consumer.consume(BATCH - 1, 0) if first else []
                messages = [m for m in batch if self._usable(m)]
                if not messages:
                    if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                        return
                    continue
                idle_since = time.monotonic()
                events = [self._decode(message) for message in messages]
                if not self._apply(messages, events):
                    all_applied = False
                    return  # stopping while PostgreSQL is away: leave the batch uncommitted
                # Asynchronous: the next batch need not wait for the broker. A commit lost in a crash
                # only means a batch is applied again, which changes nothing.
                try:
                    self.consumer.commit(asynchronous=True)
                except KafkaException as exc:
                    log.warning("commit failed (%s); the batch will be redone, which changes nothing", exc)
        finally:
            if all_applied:
                with contextlib.suppress(KafkaException):  # nothing consumed, or the group moved on
                    self.consumer.commit(asynchronous=False)
            self.consumer.close()
            self.producer.flush(30)

    def _usable(self, message: Message) -> bool:
        error = message.error()
        if error is not None and error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error %s", error.str())
        return error is None

    def _decode(self, message: Message) -> Any:
        try:
            return self.handler.decode(message.topic() or "", message.value())
        except PoisonMessage as exc:
            self._dead_letter(message, exc)
            return None

    def _apply(self, messages: list[Message], events: list[Any]) -> bool:
        attempt = 0
        while not self.stopping.is_set():
            attempt += 1
            try:
                self.handler.apply(events)
                return True
            except RetryableError as exc:
                delay = self.policy.delay(attempt)
                log.warning("%s; retry %d in %.1fs", exc, attempt, delay)
                self.stopping.wait(delay)
            except Exception:  # a projection bug: find the event(s) that cause it, keep the rest
                log.exception("a batch of %d failed; applying its events one by one", len(events))
                return self._apply_one_by_one(messages, events)
        return False

    def _apply_one_by_one(self, messages: list[Message], events: list[Any]) -> bool:
        for message, event in zip(messages, events, strict=True):
            try:
                self.handler.apply([event])
            except RetryableError:
                return self._apply([message], [event])
            except Exception as exc:  # dead-lettered with the error, so an operator can fix and replay it
                log.exception("dead-lettering an event the projector cannot apply")
                self._dead_letter(message, exc)
        return True

    def _dead_letter(self, message: Message, exc: BaseException) -> None:
        topic = message.topic() or ""
        value, headers = dead_letter_record(
            message.value(),
            normalize(message.headers()),
            topic,
            message.partition() or 0,
            message.offset() or 0,
            exc,
            stage="projector",
        )
        self.producer.produce(
            dead_letter_topic(topic).name,
            value=value,
            key=message.key(),
            headers=[(name, data) for name, data in headers],
        )
        self.producer.flush(30)


def _is_unavailable(exc: DBAPIError) -> bool:
    """Connection refused, server shutting down, too many clients: transient, worth waiting for."""
    import psycopg

    return isinstance(exc.orig, psycopg.OperationalError)
