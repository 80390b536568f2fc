"""A consumer that reads topics from now on: each partition assigned at its current end, no group offsets."""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Consumer, TopicPartition

from base.settings import Settings


def consumer_at_end(
    settings: Settings, topic: str | Sequence[str], group: str = "backdrop-follow"
) -> Consumer:
    """Sees only what is published on ``topic`` (one or several) after this call returns (nothing is
    committed for ``group``)."""
    consumer = Consumer({**settings.kafka_config, "group.id": group, "enable.auto.commit": False})
    partitions = []
    for name in [topic] if isinstance(topic, str) else topic:
        metadata = consumer.list_topics(name, timeout=10)
        for partition in metadata.topics[name].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
            partitions.append(TopicPartition(name, partition, high))
    consumer.assign(partitions)
    return consumer
