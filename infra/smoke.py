"""An object into the uploads bucket, its notification out of Kafka: the storage → Kafka path, timed."""

from __future__ import annotations

import io
import time
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from backdrop.errors import InfraError
from backdrop.settings import Settings
from infra.minio_server import s3_client
from streams.topics import STORAGE_EVENTS


def upload_and_await_event(
    settings: Settings, key: str, body: bytes, *, timeout_s: float = 10.0
) -> tuple[dict[str, Any], float]:
    """Upload ``body`` as ``key``; return the bucket notification for it and the seconds it took."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "backdrop-smoke",
            "enable.auto.commit": False,
        }
    )
    try:
        # Read from each partition's current end, so only events after our upload are seen.
        metadata = consumer.list_topics(STORAGE_EVENTS.name, timeout=10)
        partitions = []
        for p in metadata.topics[STORAGE_EVENTS.name].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(STORAGE_EVENTS.name, p), timeout=10)
            partitions.append(TopicPartition(STORAGE_EVENTS.name, p, high))
        consumer.assign(partitions)

        started = time.monotonic()
        s3_client(settings).put_object(settings.uploads_bucket, key, io.BytesIO(body), len(body))
        wanted = f"{settings.uploads_bucket}/{key}"
        while time.monotonic() - started < timeout_s:
            message = consumer.poll(0.1)
            if message is None or message.error():
                continue
            event: dict[str, Any] = orjson.loads(message.value() or b"{}")
            if event.get("Key") == wanted:
                return event, time.monotonic() - started
        raise InfraError(
            f"no notification for s3://{wanted} on {STORAGE_EVENTS.name} within {timeout_s:.0f} s; "
            f"check the MinIO log under {settings.state_dir}/logs/minio.log"
        )
    finally:
        consumer.close()
