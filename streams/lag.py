"""How far each stage's consumer group is behind: the number an autoscaler (and an operator) watches."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.consumer_loop import waiting


def group_lag(admin: AdminClient, consumer: Consumer, group: str, topics: Iterable[str]) -> int:
    """Messages on ``topics`` not yet committed by ``group`` (a partition it never committed counts whole)."""
    wanted = set(topics)
    committed: dict[tuple[str, int], int] = {}
    try:
        futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
        for partition in futures[group].result().topic_partitions or []:
            if partition.topic in wanted and partition.offset >= 0:
                committed[(partition.topic, partition.partition)] = partition.offset
    except KafkaException:
        pass  # an unknown group has committed nothing
    ends: list[tuple[int, int]] = []
    starts: list[int] = []
    for topic in wanted:
        metadata = consumer.list_topics(topic, timeout=10)
        for index in metadata.topics[topic].partitions:
            ends.append(consumer.get_watermark_offsets(TopicPartition(topic, index), timeout=10))
            starts.append(committed.get((topic, index), -1))
    # Counted as the consumer loop counts its backlog: an offset older than retention kept counts from the
    # first message kept.
    return waiting(ends, starts)
