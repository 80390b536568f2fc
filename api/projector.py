"""``backdrop worker projector``: ``backdrop.jobs`` (and submits on ``backdrop.uploads``) → PostgreSQL.

Transactions commit without waiting for the WAL fsync (see ``api.durable_offsets``); Kafka offsets are
committed only once PostgreSQL has flushed the events' transactions, and the projection is idempotent by
event id, so a crash of either side or a replay of the topic changes nothing. While PostgreSQL is down
it retries in place and catches up when it returns.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from typing import Any, TypeAlias

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition
from opentelemetry import trace
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.event import listen
from sqlalchemy.exc import DBAPIError

from api.durable_offsets import DurableOffsets, Partition
from api.projection import project_event, project_submit
from base.settings import Settings
from schemas import LIFECYCLE_ADAPTER, SUBMIT_ADAPTER, LifecycleEvent, SubmitJob
from streams.codec import decode
from streams.consumer_loop import ConsumerLoop
from streams.delivery import RetryPolicy
from streams.errors import PoisonMessage, RetryableError
from streams.headers import normalize
from streams.metrics import WorkerMetrics, served
from streams.telemetry import instrument_engine, traced, untraced
from streams.topics import JOBS, stage_topic
from streams.tracing import batch_span

ADMITTED = stage_topic("extract")

log = logging.getLogger("backdrop.projector")
# Events applied per transaction at most; a burst beyond it is several batches back to back.
BATCH = 500
# How long a poll waits for the first event of a batch.
POLL_TIMEOUT_S = 0.2
# Past this many events applied but not yet on disk, the projector waits for the WAL flush.
MAX_UNFLUSHED = 50_000
# Each new connection moves the event ids this far ahead: more than a crash can take back (events
# replayed after a crash get ids above any a client saw, so Last-Event-ID never skips them).
REPLAY_ID_GAP = 1_000_000
# How often, at most, the WAL flush position is read while offsets wait for it.
FLUSH_CHECK_S = 0.1

_LEAVE_ID_GAP = """
SELECT setval(s, COALESCE(pg_sequence_last_value(s), 0) + %(gap)s) FROM to_regclass('job_events_id_seq') AS s
"""
_WAL_POSITIONS = text(
    "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint, (pg_current_wal_flush_lsn() - '0/0')::bigint"
)


def projection_engine(settings: Settings) -> Engine:
    # Durability comes from the Kafka offsets trailing the WAL flush, not from each commit's fsync. No ping
    # before each batch (a round trip per batch): a connection that died with its server fails the batch's
    # first statement, which is retried on a new connection (`ProjectorHandler.apply`).
    return create_engine(
        settings.postgres_dsn,
        pool_size=2,
        connect_args={"options": "-c synchronous_commit=off"},
    )


# What the projector makes of a message: an admitted submit (owner, options, webhook), a lifecycle event,
# or nothing. It reads submits only once the extract stage's gate admitted them (job id claimed); the
# public ``backdrop.uploads`` is untrusted, and an owner or webhook read from it could be anyone's.
Projected: TypeAlias = SubmitJob | LifecycleEvent | None


class ProjectorHandler:
    """What the projector reads and how it applies it; ``BatchProjector`` runs it."""

    topics = (JOBS.name, ADMITTED.name)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connected = False
        self.restarted = False  # a connection was replaced since the last take_restart()
        listen(engine, "connect", self._on_connect)

    def _on_connect(self, connection: Any, record: Any) -> None:
        """Leave an id gap on each new connection; a replaced connection may mean a restarted server."""
        with connection.cursor() as cursor:
            cursor.execute(_LEAVE_ID_GAP, {"gap": REPLAY_ID_GAP})
        connection.commit()
        # The pool reconnects only when its connection died, with the server or not: either way, read
        # again what PostgreSQL may not have flushed. Replaying a second of events changes nothing.
        if self.connected:
            self.restarted = True
        self.connected = True

    def take_restart(self) -> bool:
        """Whether PostgreSQL may have restarted (losing unflushed commits) since last asked."""
        restarted, self.restarted = self.restarted, False
        return restarted

    def wal_positions(self) -> tuple[int, int]:
        """PostgreSQL's WAL insert and flush positions; RetryableError while it is away."""
        try:
            with self.engine.connect() as conn:
                insert_lsn, flush_lsn = conn.execute(_WAL_POSITIONS).one()
        except DBAPIError as exc:
            raise RetryableError(f"PostgreSQL is unavailable ({exc.orig})") from exc
        return int(insert_lsn), int(flush_lsn)

    def decode(self, topic: str, value: bytes | None) -> Projected:
        if topic == ADMITTED.name:
            try:
                return decode(value, SUBMIT_ADAPTER)
            except PoisonMessage:
                return None  # the extract stage dead-letters what it cannot read; one copy is enough
        return decode(value, LIFECYCLE_ADAPTER)

    def apply(self, events: list[Projected]) -> None:
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
    only once the batch's transaction is on disk, so a crash redoes the batch, which changes nothing.
    """

    def __init__(
        self,
        handler: ProjectorHandler,
        settings: Settings,
        group: str | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        """``group``: the projector's consumer group, by default ``<prefix>-projector``; ``metrics``:
        the process's (one per process), counting the events applied, timing batches, and its lag."""
        self.handler = handler
        self.metrics = metrics
        self.tracer = trace.get_tracer("backdrop.projector")
        group = group or settings.consumer_group("projector")
        self.loop = ConsumerLoop.in_group(
            settings,
            group,
            name="projector",
            topics=handler.topics,
            policy=RetryPolicy(max_attempts=5, max_delay_s=5.0),
            metrics=metrics,
            max_batch=BATCH,
            poll_timeout_s=POLL_TIMEOUT_S,
        )
        self.stopping = self.loop.stopping
        self.offsets = DurableOffsets()
        self._flush_checked = 0.0

    @property
    def consumer(self) -> Consumer:
        """The loop's consumer (a new one after the loop replaced a stuck one)."""
        return self.loop.consumer

    def install_signal_handlers(self) -> None:
        self.loop.install_signal_handlers()

    def run(self, idle_exit_s: float | None = None) -> None:
        """Until stopped, or (tests) until nothing arrived for ``idle_exit_s``."""
        self.loop.run(
            self._project,
            idle_exit_s=idle_exit_s,
            on_idle=self._release,
            on_revoke=self._on_revoke,
            on_close=self._commit_flushed,
        )

    def _project(self, messages: list[Message]) -> bool:
        """Apply one batch; False when stopping while PostgreSQL is away (the batch stays uncommitted)."""
        events = [self._decode(message) for message in messages]
        with (
            batch_span(
                self.tracer,
                "projector",
                ",".join(sorted({m.topic() or "" for m in messages})),
                len(messages),
                (normalize(m.headers()) for m in messages),
            ),
            self.metrics.handling() if self.metrics is not None else contextlib.nullcontext(),
        ):
            if not self._apply(messages, events):
                return False
        if self.metrics is not None:
            self.metrics.outcome("handled", count=len(messages))
        if self.handler.take_restart():
            self._rewind()  # this batch went to a restarted server: what came before may be lost
            return True
        self.offsets.applied_batch((m.topic() or "", m.partition() or 0, m.offset() or 0) for m in messages)
        self._release()
        while self.offsets.unflushed > MAX_UNFLUSHED and not self.stopping.is_set():
            self.stopping.wait(FLUSH_CHECK_S)
            self._release()
        return True

    def _release(self) -> None:
        """Commit (asynchronously) the offsets whose transactions PostgreSQL has flushed since last time."""
        now = time.monotonic()
        if not self.offsets.unflushed or now - self._flush_checked < FLUSH_CHECK_S:
            return
        self._flush_checked = now
        try:
            with untraced():
                insert_lsn, flush_lsn = self.handler.wal_positions()
        except RetryableError:
            return  # asked again on the next pass; the offsets wait
        if self.handler.take_restart():
            self._rewind()
            return
        ready = self.offsets.release(insert_lsn, flush_lsn)
        if ready:
            # A commit lost in a crash only means events are applied again, which changes nothing.
            try:
                self.consumer.commit(offsets=_partitions(ready), asynchronous=True)
            except KafkaException as exc:
                log.warning("offset commit failed (%s); the events will be applied again", exc)

    def _rewind(self) -> None:
        """PostgreSQL restarted: read again from the last offsets known to be on its disk."""
        released = self.offsets.rewind()
        assignment = self.consumer.assignment()
        if not assignment:
            return
        log.warning(
            "PostgreSQL restarted; reading %d partitions again from their flushed offsets", len(assignment)
        )
        unreleased = [tp for tp in assignment if (tp.topic, tp.partition) not in released]
        committed = self._committed(unreleased) if unreleased else {}
        if committed is None:
            return  # stopping: nothing unflushed is left to commit
        for tp in assignment:
            key = (tp.topic, tp.partition)
            offset = released.get(key, committed.get(key, -1))
            try:
                self.consumer.seek(
                    TopicPartition(tp.topic, tp.partition, offset if offset >= 0 else OFFSET_BEGINNING)
                )
            except KafkaException as exc:  # not fetching yet: it will start from its committed offset
                log.info("seek %s[%d]: %s", tp.topic, tp.partition, exc)

    def _committed(self, partitions: list[TopicPartition]) -> dict[Partition, int] | None:
        """The group's committed offsets, asked until the broker answers; None if stopping first."""
        while not self.stopping.is_set():
            try:
                return {
                    (tp.topic, tp.partition): tp.offset
                    for tp in self.consumer.committed(partitions, timeout=30)
                }
            except KafkaException as exc:
                log.warning("reading committed offsets failed (%s); retrying", exc)
                self.stopping.wait(1.0)
        return None

    def _commit_flushed(self) -> None:
        """On the way out (or a revoke): wait briefly for the WAL flush, then commit what is on disk."""
        deadline = time.monotonic() + 5.0
        while self.offsets.unflushed and time.monotonic() < deadline:
            self._flush_checked = 0.0
            self._release()
            if self.offsets.unflushed:
                time.sleep(FLUSH_CHECK_S)
        if self.offsets.released:
            # Asynchronous, as the workers' commits (`streams.consumer_loop.consumer_config`): a synchronous
            # one can wait for ever on a coordinator that does not answer, inside a rebalance here. The
            # consumer's close waits for it, within its own bound.
            with contextlib.suppress(KafkaException):  # the group moved on: the events are applied again
                self.consumer.commit(offsets=_partitions(self.offsets.released), asynchronous=True)

    def _on_revoke(self, partitions: list[TopicPartition]) -> None:
        self._commit_flushed()
        self.offsets.forget((tp.topic, tp.partition) for tp in partitions)

    def _decode(self, message: Message) -> Projected:
        try:
            return self.handler.decode(message.topic() or "", message.value())
        except PoisonMessage as exc:
            self.loop.dead_letter(message, exc)
            return None

    def _apply(self, messages: list[Message], events: list[Projected]) -> bool:
        attempt = 0
        while not self.stopping.is_set():
            attempt += 1
            try:
                self.handler.apply(events)
                return True
            except RetryableError as exc:
                delay = self.loop.policy.delay(attempt)
                log.warning("%s; retry %d in %.1fs", exc, attempt, delay)
                self.stopping.wait(delay)
            except Exception:  # a projection bug: find the event(s) that cause it, keep the rest
                log.exception("a batch of %d failed; applying its events one by one", len(events))
                return self._apply_one_by_one(messages, events)
        return False

    def _apply_one_by_one(self, messages: list[Message], events: list[Projected]) -> bool:
        for message, event in zip(messages, events, strict=True):
            try:
                self.handler.apply([event])
            except RetryableError:
                return self._apply([message], [event])
            except Exception as exc:  # dead-lettered with the error, so an operator can fix and replay it
                log.exception("dead-lettering an event the projector cannot apply")
                self.loop.dead_letter(message, exc)
        return True


def _is_unavailable(exc: DBAPIError) -> bool:
    """Connection refused, server shutting down, too many clients: transient, worth waiting for."""
    import psycopg

    return isinstance(exc.orig, psycopg.OperationalError)


def _partitions(offsets: dict[Partition, int]) -> list[TopicPartition]:
    return [TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()]


def run_projector(settings: Settings) -> None:
    """``backdrop worker projector``: migrate, then project until SIGTERM."""
    from api.migrate import upgrade

    upgrade(settings)
    with traced("projector") as provider:
        engine = projection_engine(settings)
        instrument_engine(provider, engine)  # its statements: children of each batch's span
        try:
            with served("projector", settings) as metrics:
                projector = BatchProjector(ProjectorHandler(engine), settings, metrics=metrics)
                projector.install_signal_handlers()
                gc.freeze()  # what is loaded now lives as long as the process: no need to rescan it
                projector.run()
        finally:
            engine.dispose()
