"""One stage worker: consume, do the work, store outputs, publish the next events, then commit.

At-least-once with idempotent effects: the offset is committed only after the outputs are stored and
the next events are flushed to the broker. A worker killed at any point redoes the message; outputs go
to deterministic object keys (a redo overwrites) and events carry deterministic ids (consumers dedupe).

Failure classes, each handled here and nowhere else:
- the bytes are not a valid event (``PoisonMessage``): dead-letter, commit, move on;
- the job's input cannot be processed (``InputError``, e.g. a corrupt upload): publish ``failed`` for
  that job, commit, move on — other jobs are untouched;
- something transient (``RetryableError``: S3 or Kafka unreachable): back off and retry in place;
- a stored object the event refers to is gone (``ObjectNotFound``): dead-letter at once, fail the job;
- a message that is not allowed (``Refused``: a job id claimed by another submit): dead-letter at once;
  it names no job of its own (the extract gate's events carry none), so no job is failed;
- anything else after ``RetryPolicy.max_attempts`` tries: dead-letter with the error, fail the job,
  commit, move on. The worker never exits because of one message.
- a message that kills its worker (out of memory, a crash in native code) is counted in an
  ``AttemptLedger`` that outlives the process: once its count passes ``max_attempts`` the next worker
  dead-letters it without trying (``worker_died``) and the partition moves on.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from confluent_kafka import KafkaException, Message
from opentelemetry import trace
from pydantic import BaseModel

from base.errors import BackdropError, InputError
from base.settings import Settings
from schemas import ChunkRef, JobFailed, PipelineStage
from streams.attempts import AttemptLedger, WorkerDied
from streams.codec import encode
from streams.consumer_loop import ConsumerLoop, wire
from streams.delivery import RetryPolicy, error_code
from streams.errors import ObjectNotFound, PoisonMessage, Refused, RetryableError
from streams.headers import Headers, normalize
from streams.logs import about
from streams.metrics import WorkerMetrics
from streams.topics import JOBS
from streams.tracing import inject, stage_span

log = logging.getLogger("backdrop.worker")
# Event ids derive from what they describe, so a redone message publishes the same ids again.
EVENT_NAMESPACE = uuid.UUID("6f1d8c5e-3a4b-4c1e-9d7a-5b2f0e8c4a11")
# The event a handler decodes and then handles (ChunkTask, AssembleTask, a submit, ...).
E = TypeVar("E")


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


class StageHandler(Protocol[E]):
    """One stage's work: what ``decode`` makes of a message is what ``handle`` takes."""

    @property
    def stage(self) -> PipelineStage:
        """The stage's name; its consumer group is ``backdrop-<stage>``."""
        ...

    @property
    def topics(self) -> Sequence[str]:
        """The topics it consumes."""
        ...

    def decode(self, topic: str, value: bytes | None, headers: Headers) -> E:
        """The event in ``value`` (``headers`` are the message's); raises PoisonMessage when it is not one."""
        ...

    def handle(self, event: E) -> Handled:
        """Do the stage's work for ``event``; outputs are stored before this returns."""
        ...


class Worker(Generic[E]):
    """The consume → handle → publish → commit loop for one stage handler."""

    def __init__(
        self,
        handler: StageHandler[E],
        settings: Settings,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stopped: Callable[[str], bool] | None = None,
        ledger: AttemptLedger | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        """``stopped(job_id)`` says whether a job has stopped (cancelled or ended): its messages are
        committed undone.
        ``ledger`` counts attempts across processes; without one only this process's attempts count.
        ``metrics`` (one per process: Prometheus names are global) counts and times the messages."""
        self.handler = handler
        self.stopped = stopped
        self.ledger = ledger
        self.metrics = metrics
        self.sleep = sleep
        self.tracer = trace.get_tracer("backdrop.worker")
        self.group = settings.consumer_group(handler.stage)
        # One message per poll (the loop's default): each is its own unit of work, retry and commit.
        self.loop = ConsumerLoop.in_group(
            settings,
            self.group,
            name=handler.stage,
            topics=handler.topics,
            policy=policy or RetryPolicy(),
            metrics=metrics,
            sleep=sleep,
        )
        self.policy, self.stopping = self.loop.policy, self.loop.stopping

    def install_signal_handlers(self) -> None:
        self.loop.install_signal_handlers()

    def run(self, max_messages: int | None = None) -> None:
        """Until stopped (SIGTERM/SIGINT) or ``max_messages`` were handled; finishes the current one."""
        self.loop.run(self._process_batch, max_messages=max_messages)

    def _process_batch(self, batch: list[Message]) -> bool:
        for message in batch:
            self._process(message)
        return True

    def _process(self, message: Message) -> None:
        topic, value = message.topic() or "", message.value()
        try:
            event = self.handler.decode(topic, value, normalize(message.headers()))
        except Exception as exc:  # PoisonMessage, or a decoder's bug: either way the bytes are the problem
            if not isinstance(exc, PoisonMessage):
                log.exception("%s: could not decode offset %s", self.handler.stage, message.offset())
            self.loop.dead_letter(message, exc, attempts=1)
            self._count("dead_lettered", error_code(exc))
            self._commit(message)
            return
        job_id = getattr(event, "job_id", None)
        if job_id is not None and self.stopped is not None and self.stopped(job_id):
            log.info(
                "%s: job %s has stopped; skipping offset %s", self.handler.stage, job_id, message.offset()
            )
            self._count("skipped")
            self._commit(message)
            return
        chunk = getattr(event, "chunk", None)
        index = chunk.index if isinstance(chunk, ChunkRef) else None
        with (
            about(job_id, index),
            stage_span(
                self.tracer,
                self.handler.stage,
                job_id,
                index,
                normalize(message.headers()),
                topic=topic,
                partition=message.partition(),
                offset=message.offset(),
                consumer_group=self.group,
            ),
        ):
            with self.metrics.handling() if self.metrics is not None else contextlib.nullcontext():
                outcome = self._attempt(message, event, job_id)
            if outcome is not None:
                self._publish(outcome.events)  # inside the span: the events carry on its trace
                self._count("handled")
                if self.metrics is not None and isinstance(chunk, ChunkRef):
                    self.metrics.took_frames(chunk.stop - chunk.start)
            # Logged before the commit: a message committed is always in the log (one killed in between
            # is redone, and logged again by whoever redoes it).
            log.info(
                "%s: handled %s job=%s chunk=%s partition=%s offset=%s",
                self.handler.stage,
                type(event).__name__,
                job_id,
                "-" if index is None else index,
                message.partition(),
                message.offset(),
            )
        self._commit(message)
        if self.ledger is not None:
            self.ledger.done(self.group, message)

    def _attempt(self, message: Message, event: E, job_id: str | None) -> Handled | None:
        """Handled events, or None when the job failed / the message was dead-lettered (already published)."""
        attempt = 0
        while True:
            counted = self.ledger.begin(self.group, message) if self.ledger is not None else None
            attempt = max(attempt + 1, counted or 0)
            if attempt > self.policy.max_attempts:
                died = WorkerDied(
                    f"taken up {attempt - 1} times by workers that stopped before finishing it (killed, out "
                    "of memory, or a crash in native code)"
                )
                self._give_up(message, died, attempt - 1, job_id)
                return None
            try:
                return self.handler.handle(event)
            except InputError as exc:
                log.info("%s: job %s failed: %s", self.handler.stage, job_id, exc.message)
                self._fail_job(job_id, exc.code, exc.message, message)
                self._count("failed", exc.code)
                return None
            except Refused as exc:
                # Refused stays refused. The job id is another submit's: its job must not fail for this one.
                self._give_up(message, exc, attempt, job_id=None)
                return None
            except (ObjectNotFound, PoisonMessage) as exc:
                # Gone is gone, unreadable stays unreadable: retrying changes neither. An operator can
                # restore a missing object and replay the dead letter.
                self._give_up(message, exc, attempt, job_id)
                return None
            except RetryableError as exc:
                if self.stopping.is_set():
                    raise  # shutting down: leave the message uncommitted, another worker redoes it
                if attempt < self.policy.max_attempts:
                    delay = self.policy.delay(attempt)
                    log.warning("%s: retry %d in %.1fs: %s", self.handler.stage, attempt, delay, exc)
                    self.sleep(delay)
                    continue
                self._give_up(message, exc, attempt, job_id)
                return None
            except (KafkaException, BackdropError, Exception) as exc:
                if attempt < self.policy.max_attempts and not self.stopping.is_set():
                    log.exception("%s: attempt %d failed", self.handler.stage, attempt)
                    self.sleep(self.policy.delay(attempt))
                    continue
                self._give_up(message, exc, attempt, job_id)
                return None

    def _count(self, outcome: str, code: str = "") -> None:
        if self.metrics is not None:
            self.metrics.outcome(outcome, code)

    def _give_up(self, message: Message, exc: BaseException, attempts: int, job_id: str | None) -> None:
        self.loop.dead_letter(message, exc, attempts)
        self._count("dead_lettered", error_code(exc))
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

    def _publish(self, events: list[Outgoing]) -> None:
        for out in events:
            self.loop.producer.produce(
                out.topic, value=encode(out.event), key=out.key.encode(), headers=wire(inject([]))
            )
        self.loop.flush()

    def _commit(self, message: Message) -> None:
        # Asynchronous (see `consumer_config`): its outcome comes with a later poll.
        try:
            self.loop.consumer.commit(message=message, asynchronous=True)
        except KafkaException as exc:
            # Lost the partition in a rebalance: the next owner redoes the message; effects are idempotent.
            log.warning("%s: commit failed (%s); the message will be redone", self.handler.stage, exc)
