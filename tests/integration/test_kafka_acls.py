"""The broker enforces who may publish and read what, each test written as the attack it stops: before,
the broker listened in PLAINTEXT with no ACLs, and anyone who could reach it could publish `completed`
for any job, or read every stage topic."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from pydantic import SecretStr

from base.settings import Settings
from infra.kafka_acls import PUBLIC_PUBLISHER, PUBLIC_READER, principal_password
from streams.topics import JOBS, UPLOADS, stage_topic

pytestmark = pytest.mark.integration


def _as(settings: Settings, principal: str, password: str | None = None) -> Settings:
    secret = password if password is not None else principal_password(settings, principal)
    return settings.model_copy(
        update={"kafka_username": principal, "kafka_password": SecretStr(secret or "")}
    )


def _publish(settings: Settings, topic: str) -> KafkaError | None:
    """The broker's answer to one message: None when it was written, else the error."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**settings.kafka_config, "message.timeout.ms": 10000, "log_level": 0})
    producer.produce(topic, b"{}", key=b"acl-test", on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(15)
    assert outcome, f"no answer from the broker for {topic}"
    return outcome[0]


def _read(settings: Settings, topic: str) -> KafkaError | None:
    """None once ``topic`` is assigned to a consumer in a group of the principal's, else the error."""
    group = f"public-{uuid.uuid4().hex[:8]}"
    consumer = Consumer({**settings.kafka_config, "group.id": group, "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        for _ in range(60):
            message = consumer.poll(0.5)
            if message is not None and message.error() is not None:
                return message.error()
            if consumer.assignment():
                return None
        raise AssertionError(f"neither an assignment nor an error for {topic} in 30 s")
    finally:
        consumer.close()


def test_the_public_publisher_writes_uploads_only(infra: Settings) -> None:
    publisher = _as(infra, PUBLIC_PUBLISHER)
    assert _publish(publisher, UPLOADS.name) is None
    for forbidden in (JOBS.name, stage_topic("score").name, stage_topic("extract").name):
        error = _publish(publisher, forbidden)
        assert error is not None, f"the public publisher wrote {forbidden}"
        assert error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error


def test_the_public_reader_reads_jobs_only(infra: Settings) -> None:
    reader = _as(infra, PUBLIC_READER)
    assert _read(reader, JOBS.name) is None
    error = _read(reader, UPLOADS.name)  # submits may carry webhook URLs and owners: not for everyone
    assert error is not None
    assert error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
    assert _publish(reader, JOBS.name) is not None


def test_a_stage_cannot_forge_another_stages_work(infra: Settings) -> None:
    score = _as(infra, "score")
    assert _publish(score, stage_topic("segment").name) is None  # its own output
    error = _publish(score, stage_topic("assemble").name)
    assert error is not None
    assert error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error


def test_no_password_no_broker(infra: Settings) -> None:
    wrong = _as(infra, PUBLIC_PUBLISHER, password="not-the-password")
    producer = Producer({**wrong.kafka_config, "message.timeout.ms": 5000, "log_level": 0})
    failures: list[KafkaError] = []
    producer.produce(UPLOADS.name, b"{}", on_delivery=lambda err, _msg: failures.append(err))
    producer.flush(10)
    assert failures, "no answer"
    assert failures[0] is not None, "a producer with a wrong password wrote to the broker"
    plain = infra.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
    with pytest.raises(KafkaException):
        Consumer({**plain.kafka_config, "group.id": "acl-test"}).list_topics(timeout=5)
