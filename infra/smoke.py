"""An object into the uploads bucket, its notification out of Kafka: the storage → Kafka path, timed."""

from __future__ import annotations

import io
import time
from typing import Any

import orjson

from base.errors import InfraError
from base.settings import Settings
from infra.minio_server import s3_client
from streams.follow import consumer_at_end
from streams.topics import STORAGE_EVENTS


def upload_and_await_event(
    settings: Settings, key: str, body: bytes, *, timeout_s: float = 10.0
) -> tuple[dict[str, Any], float]:
    """Upload ``body`` as ``key``; return the bucket notification for it and the seconds it took."""
    # From each partition's current end, so only events after our upload are seen.
    consumer = consumer_at_end(settings, STORAGE_EVENTS.name, "backdrop-smoke")
    try:
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
