"""Consumer lag as `backdrop status` and an autoscaler see it, against the real broker."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from base.settings import Settings
from streams.admin import admin_client
from streams.lag import group_lag

pytestmark = pytest.mark.integration


def test_lag_counts_what_the_group_has_not_committed(infra: Settings, scratch_topic: str) -> None:
    producer = Producer({**infra.kafka_config})
    for i in range(3):
        producer.produce(scratch_topic, value=f"task-{i}".encode())
    assert producer.flush(10) == 0
    group = f"test-{uuid.uuid4().hex}"
    admin = admin_client(infra)
    worker = Consumer(
        {
            **infra.kafka_config,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        assert group_lag(admin, group, [scratch_topic]) == 3  # never committed: all of it
        worker.subscribe([scratch_topic])
        message = None
        while message is None or message.error():
            message = worker.poll(1.0)
        worker.commit(message=message, asynchronous=False)
        assert group_lag(admin, group, [scratch_topic]) == 2
        # Retention passes the group's offset (here: records before offset 2 deleted): what is gone is not
        # waiting, so the lag counts from the first message kept.
        futures = admin.delete_records([TopicPartition(scratch_topic, 0, 2)])
        for future in futures.values():
            future.result(timeout=10)
        assert group_lag(admin, group, [scratch_topic]) == 1
    finally:
        worker.close()
