"""How far each stage's consumer group is behind: the number an autoscaler (and an operator) watches."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.admin import PartitionEnds
from streams.consumer_loop import waiting


def group_lag(admin: AdminClient, group: str, topics: Iterable[str]) -> int:
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
    partitions = [
        TopicPartition(topic, index)
        for topic in wanted
        for index in admin.list_topics(topic, timeout=10).topics[topic].partitions
    ]
    starts = [committed.get((tp.topic, tp.partition), -1) for tp in partitions]
    # Counted as the consumer loop counts its backlog (both partition ends in one request each; an offset
    # older than retention kept counts from the first message kept).
    return waiting(PartitionEnds(lambda: admin, timeout_s=10)(partitions), starts)
