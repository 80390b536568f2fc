"""Produce and consume through each Kafka client Backdrop uses, against the real broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, Producer

from base.settings import Settings
from streams.admin import admin_client, ensure_topics
from streams.topics import DAY_MS, TopicSpec

pytestmark = pytest.mark.integration


def _consume_confluent(settings: Settings, topic: str, count: int, timeout_s: float = 30.0) -> list[bytes]:
    consumer = Consumer(
        {
            **settings.kafka_config,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                values.append(message.value() or b"")
    finally:
        consumer.close()
    return values


def test_confluent_kafka_round_trip(infra: Settings, scratch_topic: str) -> None:
    producer = Producer({**infra.kafka_config, "enable.idempotence": True})
    for i in range(5):
        producer.produce(scratch_topic, key=b"job-1", value=f"event-{i}".encode())
    assert producer.flush(10) == 0

    assert _consume_confluent(infra, scratch_topic, 5) == [f"event-{i}".encode() for i in range(5)]


def test_aiokafka_round_trip(infra: Settings, scratch_topic: str) -> None:
    async def round_trip() -> list[bytes]:
        producer = AIOKafkaProducer(**infra.aiokafka_config, enable_idempotence=True)
        await producer.start()
        try:
            for i in range(3):
                await producer.send_and_wait(scratch_topic, f"async-{i}".encode(), key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            scratch_topic,
            **infra.aiokafka_config,
            group_id=f"test-{uuid.uuid4().hex}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            values = []
            while len(values) < 3:
                message = await asyncio.wait_for(consumer.getone(), timeout=30)
                values.append(message.value or b"")
            await consumer.commit()
            return values
        finally:
            await consumer.stop()

    assert asyncio.run(round_trip()) == [f"async-{i}".encode() for i in range(3)]


def test_faust_agent_round_trip(infra: Settings, tmp_path: Path) -> None:
    """A Faust worker (separate process) consumes one topic and produces to another."""
    suffix = uuid.uuid4().hex[:12]
    source = TopicSpec(f"test.faust-in.{suffix}", 1, DAY_MS, "faust test input")
    sink = TopicSpec(f"test.faust-out.{suffix}", 1, DAY_MS, "faust test output")
    ensure_topics(admin_client(infra), [source, sink])

    producer = Producer({**infra.kafka_config})
    for i in range(3):
        producer.produce(source.name, value=f"frame-{i}".encode())
    assert producer.flush(10) == 0

    env = {
        **os.environ,
        "FAUST_ECHO_SOURCE": source.name,
        "FAUST_ECHO_SINK": sink.name,
        "FAUST_ECHO_APP": f"test-faust-echo-{suffix}",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.faust_echo_app",
            "--datadir",
            str(tmp_path),
            "worker",
            "--loglevel",
            "warn",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        echoed = _consume_confluent(infra, sink.name, 3, timeout_s=90)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=60)
    assert echoed == [f"echo:frame-{i}".encode() for i in range(3)], output.decode(errors="replace")[-3000:]
