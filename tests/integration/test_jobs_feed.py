"""The downstream kit on the real broker: typed ``backdrop.jobs`` events for aiokafka and Faust apps."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from minio import Minio
from minio.error import S3Error

from base.settings import Settings
from schemas import JobCompleted, JobMetrics
from streams.codec import encode
from streams.jobs_feed import jobs_consumer
from streams.topics import JOBS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _completed(job_id: str) -> JobCompleted:
    return JobCompleted(
        event_type="completed",
        job_id=job_id,
        output_key=f"jobs/{job_id}/assemble/output.mp4",
        metrics=JobMetrics(frames=10, duration_s=1.0, processing_s=2.0, fps=5.0),
    )


def _publish(settings: Settings, job_id: str, *values: bytes) -> None:
    producer = Producer({**settings.kafka_config, "enable.idempotence": True})
    for value in values:
        producer.produce(JOBS.name, key=job_id.encode(), value=value)
    assert producer.flush(10) == 0


def _unknown(job_id: str) -> bytes:
    """An event type a later Backdrop might add."""
    return orjson.dumps({"event_type": "archived", "job_id": job_id, "where": "glacier"})


def test_an_aiokafka_consumer_gets_typed_events_and_none_for_a_new_type(infra: Settings) -> None:
    job_id = f"job_{uuid.uuid4().hex}"
    sent = _completed(job_id)

    async def read() -> list[object]:
        consumer = jobs_consumer(f"test-feed-{uuid.uuid4().hex}", infra, auto_offset_reset="latest")
        await consumer.start()
        try:
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=200)
            for tp in consumer.assignment():  # from here on: nothing published before is ours
                await consumer.seek_to_end(tp)
            for tp in consumer.assignment():
                await consumer.position(tp)
            _publish(infra, job_id, _unknown(job_id), encode(sent))
            found: list[object] = []
            deadline = time.monotonic() + 30
            while len(found) < 2 and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += [record.value for record in records if record.key == job_id]
            return found
        finally:
            await consumer.stop()

    assert asyncio.run(read()) == [None, sent]  # in order: one job's events share a partition


def _lines(stream: io.BufferedReader, into: queue.Queue[str]) -> None:
    for line in iter(stream.readline, b""):
        into.put(line.decode(errors="replace"))


def test_the_readmes_faust_app_archives_a_finished_jobs_output(infra: Settings, tmp_path: Path) -> None:
    job_id = f"job_{uuid.uuid4().hex}"
    archive = f"test-archive-{uuid.uuid4().hex[:12]}"
    s3 = Minio(
        infra.s3_endpoint,
        access_key=infra.s3_access_key,
        secret_key=infra.s3_secret_key.get_secret_value(),
        secure=infra.s3_secure,
    )
    s3.make_bucket(archive)
    output = b"not really a video, but bytes to copy"
    s3.put_object(infra.artifacts_bucket, _completed(job_id).output_key, io.BytesIO(output), len(output))

    env = {**os.environ, "ARCHIVE_BUCKET": archive, "ARCHIVE_APP": f"test-archive-{uuid.uuid4().hex[:8]}"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.faust_archive_app",
            "--datadir",
            str(tmp_path),
            "worker",
            "--loglevel",
            "info",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    said: queue.Queue[str] = queue.Queue()
    assert worker.stdout is not None
    reader = threading.Thread(target=_lines, args=(worker.stdout, said), daemon=True)
    reader.start()
    log: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while not any("Ready" in line for line in log):  # the worker holds its partitions
            assert time.monotonic() < deadline, "".join(log)[-3000:]
            with contextlib.suppress(queue.Empty):
                log.append(said.get(timeout=1))
        missing = f"job_{uuid.uuid4().hex}"  # its output is gone: the app says so and goes on
        _publish(infra, missing, encode(_completed(missing)))
        _publish(infra, job_id, _unknown(job_id), encode(_completed(job_id)))
        copied = None
        while copied is None and time.monotonic() < deadline + 30:
            try:
                copied = s3.get_object(archive, _completed(job_id).output_key).read()
            except S3Error:
                time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        reader.join(timeout=10)  # it ends at the pipe's end
        worker.stdout.close()
    while not said.empty():
        log.append(said.get())
    assert copied == output, "".join(log)[-3000:]
    assert any(f"could not archive jobs/{missing}/" in line for line in log), "".join(log)[-3000:]
