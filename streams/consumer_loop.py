"""The one consume loop: stage workers run it a message at a time, the projector in batches.

The loop owns what does not depend on the work: SIGTERM/SIGINT, the subscription (with a revoke hook),
polling up to ``max_batch`` messages, dropping the broker's error events, the dead-letter producer,
redoing a batch after a RetryableError (seek back to its first offsets), and closing the consumer and
flushing the producer on the way out. When to commit is the caller's: ``process(batch)`` returns only once
it is safe to move on, so nothing is committed before its outputs are stored and its events flushed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from base.settings import Settings
from streams.admin import PartitionEnds, admin_client
from streams.delivery import RetryPolicy, dead_letter_record
from streams.errors import RetryableError
from streams.headers import Headers, normalize
from streams.liveness import PulseWriter, StallWatch
from streams.topics import dead_letter_topic

if TYPE_CHECKING:
    from streams.metrics import WorkerMetrics

log = logging.getLogger("backdrop.consumer")
# How long a flush waits for the broker before the events it holds count as undelivered.
FLUSH_TIMEOUT_S = 30
# How long closing a consumer may take. librdkafka's close can wait for ever on a group coordinator that
# does not answer (confluentinc/librdkafka#3740, #4674), as after a broker restart: past this the old
# consumer is left to finish on its own thread and the loop goes on.
CLOSE_TIMEOUT_S = 20.0


def _commit_failed(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
    """The outcome of an asynchronous commit (served by the next poll): a failed one is only logged, its
    messages are redone by whoever reads them next."""
    if error is not None and error.code() != KafkaError._NO_OFFSET:
        log.warning("offset commit failed (%s); those messages may be redone", error.str())


def consumer_config(settings: Settings, group: str) -> dict[str, object]:
    """Commits are asynchronous: a synchronous one can wait for ever on a coordinator that does not answer
    (confluentinc/confluent-kafka-python#1801), as after a broker restart, and a commit that is lost only
    means a message is done again, which at-least-once delivery with idempotent effects allows."""
    return {
        **settings.kafka_config,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        # A killed worker's partitions move to the others after this long without heartbeats.
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1500,
        # The longest chunk must finish between two polls (heartbeats run on librdkafka's own thread).
        "max.poll.interval.ms": 900_000,
        "on_commit": _commit_failed,
        "log_level": 3,
    }


def producer_config(settings: Settings) -> dict[str, object]:
    return {
        **settings.kafka_config,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "log_level": 3,
    }


def kafka_clients(settings: Settings, group: str) -> tuple[Consumer, Producer]:
    """A consumer in ``group`` that commits only when told, and an idempotent producer."""
    return Consumer(consumer_config(settings, group)), Producer(producer_config(settings))


def close_within(consumer: Consumer, timeout_s: float, name: str) -> None:
    """Close ``consumer`` on a thread of its own, waiting at most ``timeout_s``.

    One not closed by then is abandoned, still closing: a member that cannot reach its coordinator sends no
    heartbeats either, so the group drops it after ``session.timeout.ms`` and its partitions move on.
    """

    def close() -> None:
        try:
            consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.warning("%s: closing the consumer failed (%s)", name, exc)

    closing = threading.Thread(target=close, name=f"{name}-close", daemon=True)
    closing.start()
    closing.join(timeout_s)
    if closing.is_alive():
        log.error("%s: the consumer did not close within %.0f s; left behind, still closing", name, timeout_s)


def usable(messages: Sequence[Message], name: str) -> list[Message]:
    """The messages that carry records; the broker's error events are dropped (end of partition silently)."""
    kept = []
    for message in messages:
        error = message.error()
        if error is None:
            kept.append(message)
        elif error.code() != KafkaError._PARTITION_EOF:
            log.warning("%s: consumer error %s", name, error.str())
    return kept


def redo_positions(batch: Sequence[Message]) -> list[TopicPartition]:
    """Where to seek so that ``batch`` is read again: each partition's first offset in it."""
    first: dict[tuple[str, int], int] = {}
    for message in batch:  # a partition's messages arrive in offset order
        first.setdefault((message.topic() or "", message.partition() or 0), message.offset() or 0)
    return [TopicPartition(topic, partition, offset) for (topic, partition), offset in first.items()]


# Partitions' (low, high) offsets, in the order asked (`streams.admin.PartitionEnds`).
Ends = Callable[[Sequence[TopicPartition]], list[tuple[int, int]]]


def waiting(ends: Sequence[tuple[int, int]], starts: Sequence[int]) -> int:
    """Messages at or past each partition's start, given its (low, high) ends; a start before the first
    kept offset (none committed: -1001) counts from the first kept."""
    return sum(max(0, high - max(start, low)) for (low, high), start in zip(ends, starts, strict=True))


def wire(headers: Headers) -> list[tuple[str, str | bytes | None]]:
    """Our headers in the type confluent-kafka's stubs ask for."""
    return [(name, value) for name, value in headers]


class ConsumerLoop:
    """One consumer group member: poll a batch, hand it to ``process``, until stopped."""

    def __init__(
        self,
        consumer: Consumer,
        producer: Producer,
        *,
        name: str,
        topics: Sequence[str],
        policy: RetryPolicy,
        ends: Ends,
        max_batch: int = 1,
        poll_timeout_s: float = 0.5,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        pulse: PulseWriter | None = None,
        reconnect: Callable[[], Consumer] | None = None,
        stall: StallWatch | None = None,
        on_backlog: Callable[[int | None], None] | None = None,
        close_timeout_s: float = CLOSE_TIMEOUT_S,
    ) -> None:
        """``name`` labels logs and dead letters; ``sleep`` (default: until stopped) waits before a redo.

        ``pulse`` is told before every poll and as each batch starts, so a probe can tell a stuck loop.
        ``reconnect`` makes a new consumer in the same group: when ``stall`` sees the loop receive nothing
        while messages wait on its partitions, the consumer is closed and replaced by a new one. ``ends``
        tells partitions' (low, high) offsets, for the backlog. ``on_backlog`` hears each measure of the
        messages waiting (about every ``stall.check_every_s``, busy or idle), for a consumer-lag metric. A
        consumer that takes longer than ``close_timeout_s`` to close is left behind (`close_within`).
        """
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.consumer, self.producer = consumer, producer
        self.name, self.topics, self.policy = name, list(topics), policy
        self.max_batch, self.poll_timeout_s = max_batch, poll_timeout_s
        self.stopping = threading.Event()
        self.sleep = sleep or self.stopping.wait
        self.clock = clock
        self.pulse = pulse
        self.reconnect = reconnect
        self.stall = stall or StallWatch()
        self.ends = ends
        self.on_backlog = on_backlog
        self.close_timeout_s = close_timeout_s
        self._measured_at = clock()

    @classmethod
    def in_group(
        cls,
        settings: Settings,
        group: str,
        *,
        name: str,
        topics: Sequence[str],
        policy: RetryPolicy,
        metrics: WorkerMetrics | None = None,
        **options: Any,
    ) -> ConsumerLoop:
        """A loop on the configured broker as a member of ``group``, with a pulse named ``name``, a new
        consumer in the same group when it stalls, and the backlog told to ``metrics``; ``options`` go
        to the constructor (``max_batch``, ``sleep`` …)."""
        consumer, producer = kafka_clients(settings, group)
        return cls(
            consumer,
            producer,
            name=name,
            topics=topics,
            policy=policy,
            pulse=PulseWriter(settings.pulse_dir, name),
            reconnect=lambda: Consumer(consumer_config(settings, group)),
            ends=PartitionEnds(lambda: admin_client(settings)),
            on_backlog=metrics.waiting if metrics is not None else None,
            **options,
        )

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the loop once the batch in hand is done."""

        def stop(signum: int, frame: FrameType | None) -> None:
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(
        self,
        process: Callable[[list[Message]], bool],
        *,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        on_idle: Callable[[], None] | None = None,
        on_revoke: Callable[[list[TopicPartition]], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """Until stopped, ``process`` says stop, ``max_messages`` are done, or ``idle_exit_s`` pass idle."""
        self._subscribe(on_revoke)
        processed, idle_since = 0, self.clock()
        if self.pulse is not None:
            self.pulse.start()
        try:
            while not self.stopping.is_set() and (max_messages is None or processed < max_messages):
                if self.pulse is not None:
                    self.pulse.polling(self._assigned, processed)
                batch = self.poll()
                if not batch:
                    if on_idle is not None:
                        on_idle()
                    if idle_exit_s is not None and self.clock() - idle_since > idle_exit_s:
                        return
                    if self.stall.stalled(self._measure):
                        self._replace_consumer(on_revoke)
                    continue
                idle_since = self.clock()
                self.stall.received()
                if self.pulse is not None:
                    self.pulse.busy(processed)
                try:
                    if not process(batch):
                        return
                except RetryableError as exc:
                    if self.stopping.is_set():
                        return  # shutting down: the batch stays uncommitted and whoever reads next redoes it
                    # Kafka or S3 unreachable after the work: read the batch again and redo it.
                    log.warning("%s: %s; redoing the message", self.name, exc)
                    self.sleep(self.policy.delay(1))
                    self._seek(redo_positions(batch))
                    continue
                processed += len(batch)
                due = self.clock() - self._measured_at >= self.stall.check_every_s
                if self.on_backlog is not None and due:
                    self._measure()  # while busy too: a lag that only shows when idle says little
        finally:
            try:
                if on_close is not None:
                    on_close()
            finally:
                if self.pulse is not None:
                    self.pulse.close()
                close_within(self.consumer, self.close_timeout_s, self.name)
                self.producer.flush(FLUSH_TIMEOUT_S)

    def _subscribe(self, on_revoke: Callable[[list[TopicPartition]], None] | None) -> None:
        if on_revoke is None:
            self.consumer.subscribe(self.topics)  # confluent-kafka refuses on_revoke=None
        else:
            self.consumer.subscribe(self.topics, on_revoke=lambda _, partitions: on_revoke(partitions))

    def _measure(self) -> int | None:
        backlog = self._backlog()
        self._measured_at = self.clock()
        if self.on_backlog is not None:
            self.on_backlog(backlog)
        return backlog

    def _backlog(self) -> int | None:
        """Messages waiting for this consumer; None when it cannot tell.

        Assigned partitions: what lies past its position. None assigned: what lies past the group's
        commits on every partition it subscribes to. After a broker restart librdkafka has been seen to
        keep polling outside the group (the group empty, the consumer assigned nothing) while work waits.
        A member idle beside busy ones (more members than partitions) counts their backlog too, and
        after a minute rejoins: a cooperative rebalance that takes nothing from them.
        """
        try:
            assignment = self.consumer.assignment()
            if not assignment:
                return self._group_backlog()
            positions = self.consumer.position(assignment)
            unknown = [tp for tp in positions if tp.offset < 0]  # nothing fetched yet: from the commit
            committed = {
                (tp.topic, tp.partition): tp.offset
                for tp in (self.consumer.committed(unknown, timeout=5) if unknown else [])
            }
            starts = [
                tp.offset if tp.offset >= 0 else committed.get((tp.topic, tp.partition), -1)
                for tp in positions
            ]
            return waiting(self.ends(positions), starts)
        except (KafkaException, RuntimeError) as exc:
            # Seen after a broker restart: assigned, polling, every committed() timing out, never fetching.
            log.info("%s: could not measure the backlog (%s)", self.name, exc)
            return None

    def _group_backlog(self) -> int:
        partitions = [
            TopicPartition(topic, partition)
            for topic in self.topics
            for partition in self.consumer.list_topics(topic, timeout=5).topics[topic].partitions
        ]
        if not partitions:
            return 0
        committed = self.consumer.committed(partitions, timeout=5)
        return waiting(self.ends(committed), [tp.offset for tp in committed])

    def _replace_consumer(self, on_revoke: Callable[[list[TopicPartition]], None] | None) -> None:
        """Close the stuck consumer (it leaves the group; revoke hooks run) and subscribe a new one."""
        if self.reconnect is None:
            log.error("%s: receives nothing while messages wait on its partitions; restart it", self.name)
            return
        log.warning(
            "%s: received nothing for %.0f s while messages wait on its partitions: replacing its consumer",
            self.name,
            self.stall.stall_after_s,
        )
        close_within(self.consumer, self.close_timeout_s, self.name)
        self.consumer = self.reconnect()
        self._subscribe(on_revoke)
        log.info("%s: a new consumer has joined the group", self.name)

    def poll(self) -> list[Message]:
        """Up to ``max_batch`` messages: wait for one, then take whatever else is already here."""
        # consume(n, t) would wait out all of t for a full batch, adding t to every event's latency on a
        # quiet topic.
        batch = self.consumer.consume(1, self.poll_timeout_s)
        if batch and self.max_batch > 1:
            batch += self.consumer.consume(self.max_batch - 1, 0)
        return usable(batch, self.name)

    def dead_letter(self, message: Message, error: BaseException, attempts: int = 1) -> None:
        """Publish ``message`` as it came to its dead-letter topic, ``error`` in its headers, and flush."""
        topic = message.topic() or ""
        value, headers = dead_letter_record(
            message.value(),
            normalize(message.headers()),
            topic,
            message.partition() or 0,
            message.offset() or 0,
            error,
            stage=self.name,
            attempts=attempts,
        )
        self.producer.produce(
            dead_letter_topic(topic).name, value=value, key=message.key(), headers=wire(headers)
        )
        self.flush()

    def flush(self) -> None:
        """Wait until every produced event is delivered; RetryableError when some were not."""
        remaining = self.producer.flush(FLUSH_TIMEOUT_S)
        if remaining:
            # Not delivered: do not commit; the message is redone now, or after a restart or rebalance.
            raise RetryableError(f"{remaining} events not delivered to Kafka within {FLUSH_TIMEOUT_S} s")

    def _assigned(self) -> int:
        try:
            return len(self.consumer.assignment())
        except (KafkaException, RuntimeError):  # closed, or between generations: none to speak of
            return 0

    def _seek(self, positions: list[TopicPartition]) -> None:
        for position in positions:
            try:
                self.consumer.seek(position)
            except KafkaException as exc:
                # The partition moved to another member meanwhile: that member redoes the message.
                log.warning("%s: seek failed (%s)", self.name, exc)
