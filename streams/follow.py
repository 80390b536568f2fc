"""A consumer that reads a topic from now on: each partition assigned at its current end, no group offsets."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition


def consumer_at_end(bootstrap: str, topic: str, group: str = "backdrop-follow") -> Consumer:
    """Sees only what is published after this call returns (nothing is committed for ``group``)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = []
    for partition in metadata.topics[topic].partitions:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        partitions.append(TopicPartition(topic, partition, high))
    consumer.assign(partitions)
    return consumer
