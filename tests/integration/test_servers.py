"""Real round trips to PostgreSQL, Redis and the S3 server, and the bucket → Kafka notification."""

from __future__ import annotations

import io
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text

from base.settings import Settings
from infra.minio_server import s3_client
from infra.smoke import upload_and_await_event
from streams.admin import admin_client
from streams.topics import ALL_TOPICS

pytestmark = pytest.mark.integration


def test_postgres_sql_round_trip(infra: Settings) -> None:
    engine = create_engine(infra.postgres_dsn)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TEMP TABLE probe (id int PRIMARY KEY, note text)"))
            conn.execute(text("INSERT INTO probe VALUES (1, 'backdrop')"))
            assert conn.execute(text("SELECT note FROM probe WHERE id = 1")).scalar_one() == "backdrop"
            version = conn.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("15.")


def test_redis_keeps_nothing_on_disk(infra: Settings) -> None:
    # "no persistence (it only holds derived state)"
    client = redis.Redis.from_url(infra.redis_url)
    try:
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
    finally:
        client.close()


def test_the_projector_commits_without_waiting_for_the_disk(infra: Settings) -> None:
    # "The projector now commits with `synchronous_commit = off`"
    from api.projector import projection_engine

    engine = projection_engine(infra)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
    finally:
        engine.dispose()


def test_redis_round_trip(infra: Settings) -> None:
    client = redis.Redis.from_url(infra.redis_url)
    try:
        key = f"test:{uuid.uuid4().hex}"
        client.set(key, b"frame", ex=60)
        assert client.get(key) == b"frame"
        pubsub = client.pubsub()
        pubsub.subscribe(key)
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
        client.publish(key, b"progress")
        message = pubsub.get_message(timeout=5)
        assert message is not None
        assert message["data"] == b"progress"
        pubsub.close()
    finally:
        client.close()


def test_s3_put_get(infra: Settings) -> None:
    client = s3_client(infra)
    key = f"test/{uuid.uuid4().hex}.bin"
    body = bytes(range(256)) * 64
    client.put_object(infra.artifacts_bucket, key, io.BytesIO(body), len(body))
    response = client.get_object(infra.artifacts_bucket, key)
    try:
        assert response.read() == body
    finally:
        response.close()
        response.release_conn()
    client.remove_object(infra.artifacts_bucket, key)


def test_upload_becomes_kafka_event_within_5s(infra: Settings) -> None:
    key = f"test/{uuid.uuid4().hex}.mp4"
    event, seconds = upload_and_await_event(infra, key, b"not really a video", timeout_s=5.0)
    assert event["EventName"] == "s3:ObjectCreated:Put"
    assert event["Records"][0]["s3"]["bucket"]["name"] == infra.uploads_bucket
    assert seconds < 5.0


def test_declared_topics_exist_with_partitions_and_retention(infra: Settings) -> None:
    admin = admin_client(infra)
    topics = admin.list_topics(timeout=10).topics
    from confluent_kafka.admin import ConfigResource, ResourceType

    resources = [ConfigResource(ResourceType.TOPIC, spec.name) for spec in ALL_TOPICS]
    configs = {res.name: future.result() for res, future in admin.describe_configs(resources).items()}
    for spec in ALL_TOPICS:
        assert len(topics[spec.name].partitions) == spec.partitions, spec.name
        assert configs[spec.name]["retention.ms"].value == str(spec.retention_ms), spec.name
