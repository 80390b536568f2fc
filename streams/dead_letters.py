"""Reading dead letters back and replaying them onto the topic they failed on (`backdrop dlq`).

Reading commits nothing and takes every record up to each partition's end as it was when the read began,
so a listing ends even while workers keep dead-lettering. A replay publishes the original value, key and
headers (trace context included) to the source topic, with one header naming the dead letter it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from base.settings import Settings
from streams.consumer_loop import producer_config
from streams.delivery import DeadLetter, read_dead_letter, replay_headers
from streams.headers import Headers, get_text, normalize, set_header
from streams.topics import dead_letter_topic

# On a replayed record: the dead letter it was taken from, as ``topic:partition:offset``.
REPLAY_OF = "backdrop-replay-of"
# How long one read waits for the next record before the broker counts as unreachable.
READ_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Letter:
    """One dead-letter record: where it is, what failed, and the original record it holds."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    failure: DeadLetter

    @property
    def ref(self) -> str:
        """How `backdrop dlq show` names it."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def job_id(self) -> str | None:
        """The job the original event belongs to, when its value says (a malformed one may not)."""
        try:
            event = orjson.loads(self.value or b"")
        except orjson.JSONDecodeError:
            return None
        found = event.get("job_id") if isinstance(event, dict) else None
        return found if isinstance(found, str) else None

    @property
    def replay_of(self) -> str | None:
        """The dead letter this one's original was replayed from: it failed again."""
        return get_text(self.headers, REPLAY_OF)


def dead_letter_topics(source_topics: Iterable[str]) -> list[str]:
    """The dead-letter topics of the given input topics, each once, in order."""
    return list(dict.fromkeys(dead_letter_topic(name).name for name in source_topics))


def parse_ref(ref: str) -> tuple[str, int, int]:
    """``topic:partition:offset`` → its parts; ValueError saying the form otherwise."""
    topic, _, rest = ref.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    if not topic or not partition.isdigit() or not rest.isdigit():
        raise ValueError(f"{ref!r} is not TOPIC:PARTITION:OFFSET, as `backdrop dlq list` prints them")
    return topic, int(partition), int(rest)


def _letter(message: Message) -> Letter | None:
    headers = normalize(message.headers())
    try:
        failure = read_dead_letter(headers)
    except ValueError:
        return None  # published there by hand: not one of ours, nothing to say about it
    return Letter(
        message.topic() or "",
        message.partition() or 0,
        message.offset() or 0,
        message.key(),
        message.value(),
        headers,
        failure,
    )


def _reader(settings: Settings) -> Consumer:
    # A group is required by librdkafka; nothing is committed to it.
    return Consumer(
        {
            **settings.kafka_config,
            "group.id": settings.consumer_group("dlq-reader"),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 3,
        }
    )


def read_letters(settings: Settings, topics: Sequence[str]) -> Iterator[Letter]:
    """Every dead letter on ``topics`` from the oldest kept, up to where each partition ended when asked."""
    consumer = _reader(settings)
    try:
        ends: dict[tuple[str, int], int] = {}
        starts = []
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=READ_TIMEOUT_S).topics[topic]
            if metadata.error is not None:
                raise KafkaException(metadata.error)
            for partition in metadata.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=READ_TIMEOUT_S
                )
                if high > low:
                    ends[(topic, partition)] = high
                    starts.append(TopicPartition(topic, partition, low))
        if not starts:
            return
        consumer.assign(starts)
        while ends:
            message = consumer.poll(READ_TIMEOUT_S)
            if message is None:
                raise KafkaException(
                    KafkaError(KafkaError._TIMED_OUT, f"no record within {READ_TIMEOUT_S:.0f} s")
                )
            place = (message.topic() or "", message.partition() or 0)
            error = message.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                raise KafkaException(error)
            # In offset order: a partition leaves ``ends`` at its last record, before any newer one.
            if error is None and place in ends and (letter := _letter(message)) is not None:
                yield letter
            position = (message.offset() or 0) + (0 if error is not None else 1)
            if place in ends and position >= ends[place]:
                del ends[place]
    finally:
        consumer.close()


def read_letter(settings: Settings, ref: str) -> Letter | None:
    """The dead letter at ``ref`` (``topic:partition:offset``); None when there is none (or no longer)."""
    topic, partition, offset = parse_ref(ref)
    consumer = _reader(settings)
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        message = consumer.poll(READ_TIMEOUT_S)
        if message is None or message.error() is not None or message.offset() != offset:
            return None  # past the end, or removed by retention (the read starts at the next one kept)
        return _letter(message)
    finally:
        consumer.close()


def replay(settings: Settings, letters: Sequence[Letter]) -> int:
    """Publish each letter's original record to its source topic; the number delivered."""
    producer = Producer(producer_config(settings))
    failures: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    for letter in letters:
        headers = set_header(replay_headers(letter.headers), REPLAY_OF, letter.ref)
        producer.produce(
            letter.failure.source_topic,
            value=letter.value,
            key=letter.key,
            headers=[(name, value) for name, value in headers],
            on_delivery=delivered,
        )
    remaining = producer.flush(30)
    if failures or remaining:
        raise KafkaException(
            KafkaError(
                KafkaError._MSG_TIMED_OUT,
                f"{len(failures) + remaining} of {len(letters)} replays not delivered: "
                + "; ".join(failures[:3]),
            )
        )
    return len(letters)
