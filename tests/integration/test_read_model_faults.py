"""The read model's projector SIGKILLed while events stream in: its replacement loses none, doubles none."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions
from sqlalchemy import create_engine, func, select

from api.migrate import current
from api.tables import Job
from base.settings import Settings
from schemas import SubmitJob, new_job_id
from streams.admin import admin_client
from tests.integration.api_fixtures import Publisher, api_env
from tests.integration.test_projector import full_sequence, snapshot, topic_ends

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
JOBS = 30


def _projected(settings: Settings) -> int:
    engine = create_engine(settings.postgres_dsn)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Job)).scalar_one())
    finally:
        engine.dispose()


def test_a_projector_killed_mid_stream_loses_and_doubles_no_event(
    infra: Settings, empty_database: Settings
) -> None:
    # Its own database and consumer group (starting at the topics' ends), so nothing else projects these.
    prefix = f"backdrop-kill-{uuid.uuid4().hex[:8]}"
    admin = admin_client(infra)
    start = [ConsumerGroupTopicPartitions(f"{prefix}-projector", topic_ends(infra))]
    for future in admin.alter_consumer_group_offsets(start).values():
        future.result(30)
    env = api_env(
        empty_database,
        "projector",
        BACKDROP_POSTGRES_DB=empty_database.postgres_db,
        BACKDROP_CONSUMER_GROUP_PREFIX=prefix,
    )

    def projector() -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "backdrop", "worker", "projector"]
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    jobs: dict[str, list[uuid.UUID]] = {new_job_id(): [] for _ in range(JOBS)}
    first = projector()
    deadline = time.monotonic() + 60
    while current(empty_database) is None:  # it migrates its empty database as it starts
        assert time.monotonic() < deadline, "the projector did not migrate its database"
        time.sleep(0.2)

    def stream() -> None:
        publisher = Publisher(infra)
        for job_id in jobs:
            events = full_sequence(job_id)
            jobs[job_id] = [e.event_id for e in events if not isinstance(e, SubmitJob)]
            publisher.publish(*events)
            time.sleep(0.15)

    streaming = threading.Thread(target=stream)
    streaming.start()
    second = None
    try:
        while _projected(empty_database) < 3:  # the first has taken some of the stream
            assert time.monotonic() < deadline + 60, "the first projector projected nothing"
            time.sleep(0.05)
        first.kill()
        first.wait(10)
        killed_at = _projected(empty_database)
        assert streaming.is_alive(), "the stream ended before the kill: nothing was mid-stream"
        second = projector()
        streaming.join(60)
        deadline = time.monotonic() + 90
        while _projected(empty_database) < JOBS or any(
            snapshot(empty_database, job_id)["jobs"][0]["status"] != "completed" for job_id in jobs
        ):
            assert time.monotonic() < deadline, f"{_projected(empty_database)} of {JOBS} jobs projected"
            time.sleep(0.5)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)

    assert 3 <= killed_at < JOBS, killed_at
    for job_id, lifecycle in jobs.items():
        rows = snapshot(empty_database, job_id)
        assert [row["event_id"] for row in rows["job_events"]] == lifecycle, job_id  # each once, in order
        assert len(rows["webhook_deliveries"]) == 1, job_id
        assert rows["jobs"][0]["chunks_done"] == 2
