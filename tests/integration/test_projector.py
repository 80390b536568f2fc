"""The projector on real Kafka and PostgreSQL: replay changes nothing, ends are sticky, outages heal."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from sqlalchemy import Engine, create_engine, select, text

from api.migrate import upgrade
from api.projection import project_event
from api.projector import BatchProjector, ProjectorHandler, projection_engine
from api.tables import Artifact, Job, JobEvent, JobStage, WebhookDelivery
from base.settings import Settings
from infra.postgres_server import PostgresServer
from schemas import LifecycleEvent, SubmitJob, new_job_id
from streams.admin import admin_client
from tests.integration.api_fixtures import (
    RECEIVER_HOST,
    Publisher,
    accepted,
    admitted,
    example,
    logged_events,
    progress,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, scope="module")
def migrated(infra: Settings) -> None:
    """The schema, as `backdrop worker projector` makes it at start: these tests project in process, and
    on a fresh stack (this module alone) nothing else has made it yet."""
    upgrade(infra)


# The dispatcher (not the projector) updates these as it works, so they are left out of snapshots.
DISPATCHER_COLUMNS = {"status", "attempts", "next_attempt_at", "last_error", "delivered_at"}


class WatchingProjector(ProjectorHandler):
    """The real projector in a consumer group of its own; says when it has handled every watched event."""

    def __init__(self, engine: Engine, watched: set[uuid.UUID]) -> None:
        super().__init__(engine)
        self.group = f"backdrop-projector-test-{uuid.uuid4().hex}"
        self.pending = set(watched)
        self.done = threading.Event()

    def apply(self, events: list[Any]) -> None:
        super().apply(events)
        for event in events:
            self.pending.discard(getattr(event, "event_id", None))
        if not self.pending:
            self.done.set()


def topic_ends(settings: Settings) -> list[TopicPartition]:
    """The projector's topics' current end offsets: where the events published next will start."""
    consumer = Consumer({**settings.kafka_config, "group.id": "unused", "log_level": 3})
    try:
        ends = []
        for topic in ProjectorHandler.topics:
            for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                ends.append(TopicPartition(topic, partition, high))
        return ends
    finally:
        consumer.close()


@contextlib.contextmanager
def projector_in_process(
    settings: Settings, watched: set[uuid.UUID], since: list[TopicPartition]
) -> Iterator[tuple[WatchingProjector, BatchProjector]]:
    """The production loop (`backdrop worker projector`) in a fresh group that starts at ``since``.

    From ``since``, not from the start: the topics keep 30 days of every test's events, and reading all of
    them would make these tests slower with each run. The span still holds other tests' events.
    """
    engine = projection_engine(settings)
    handler = WatchingProjector(engine, watched)
    admin = admin_client(settings)  # kept referenced: its futures die with it
    offsets = [ConsumerGroupTopicPartitions(handler.group, since)]
    for future in admin.alter_consumer_group_offsets(offsets).values():
        future.result(30)
    worker = BatchProjector(handler, settings, group=handler.group)
    runner = threading.Thread(target=worker.run, name=handler.group)
    runner.start()
    try:
        yield handler, worker
    finally:
        worker.stopping.set()
        runner.join(60)
        engine.dispose()
    assert not runner.is_alive(), "the in-process projector did not stop"


def replay_in_process(
    settings: Settings, watched: set[uuid.UUID], since: list[TopicPartition], timeout: float = 120.0
) -> None:
    """Project the topics from ``since`` in a fresh group until every watched event was handled."""
    with projector_in_process(settings, watched, since) as (handler, _):
        finished = handler.done.wait(timeout)
    assert finished, f"{len(handler.pending)} watched events not handled within {timeout:.0f} s"


def snapshot(settings: Settings, job_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every read-model row of the job, table by table, in a stable order."""
    deliveries = [c for c in WebhookDelivery.__table__.c if c.name not in DISPATCHER_COLUMNS]
    queries = {
        "jobs": select(Job.__table__).where(Job.id == job_id),
        "job_stages": select(JobStage.__table__).where(JobStage.job_id == job_id).order_by(JobStage.stage),
        "artifacts": select(Artifact.__table__)
        .where(Artifact.job_id == job_id)
        .order_by(Artifact.kind, Artifact.position),
        "job_events": select(JobEvent.__table__).where(JobEvent.job_id == job_id).order_by(JobEvent.id),
        "webhook_deliveries": select(*deliveries).where(WebhookDelivery.job_id == job_id),
    }
    engine = create_engine(settings.postgres_dsn)
    try:
        with engine.connect() as conn:
            return {name: [dict(row) for row in conn.execute(q).mappings()] for name, q in queries.items()}
    finally:
        engine.dispose()


def full_sequence(job_id: str) -> list[LifecycleEvent | SubmitJob]:
    """A two-chunk job from accepted to completed, with a webhook so the outbox gets a row."""
    submit = admitted(job_id, "key_projector_test", f"http://{RECEIVER_HOST}:9/hook/{job_id}")
    start = example("accepted", job_id=job_id, owner="key_projector_test", chunk_count=2)
    return [
        submit,
        start,
        *(progress(job_id, done, total=2, stage=stage) for stage in ("segment", "matte") for done in (1, 2)),
        example("chunk-done", job_id=job_id, chunk=0, chunks_done=1, chunks_total=2),
        example("chunk-done", job_id=job_id, chunk=1, chunks_done=2, chunks_total=2),
        example(
            "completed",
            job_id=job_id,
            output_key=f"jobs/{job_id}/assemble/output.mp4",
            hero_keys=[f"jobs/{job_id}/heroes/00.jpg", f"jobs/{job_id}/heroes/01.jpg"],
            poster_key=f"jobs/{job_id}/poster.jpg",
        ),
    ]


def test_replaying_the_topic_changes_no_row(infra: Settings) -> None:
    job_id = new_job_id()
    events = full_sequence(job_id)
    since = topic_ends(infra)
    Publisher(infra).publish(*events)
    watched = {e.event_id for e in events}

    replay_in_process(infra, watched, since)
    first = snapshot(infra, job_id)
    replay_in_process(infra, watched, since)
    second = snapshot(infra, job_id)

    assert second == first
    lifecycle = [e.event_id for e in events if not isinstance(e, SubmitJob)]  # the submit is no job event
    assert [row["event_id"] for row in first["job_events"]] == lifecycle
    assert first["jobs"][0]["status"] == "completed"
    assert first["jobs"][0]["chunks_done"] == 2
    assert [(s["stage"], s["chunks_done"]) for s in first["job_stages"]] == [
        ("assemble", 2), ("encode", 2), ("matte", 2), ("segment", 2)
    ]  # fmt: skip
    assert sorted((a["kind"], a["position"]) for a in first["artifacts"]) == [
        ("hero", 0), ("hero", 1), ("output", 0), ("poster", 0)
    ]  # fmt: skip
    assert len(first["webhook_deliveries"]) == 1


def test_project_event_applies_an_event_once(infra: Settings) -> None:
    event = accepted("key_projector_test")
    engine = create_engine(infra.postgres_dsn)
    try:
        with engine.begin() as conn:
            row_id = project_event(conn, event)
        with engine.begin() as conn:
            again = project_event(conn, event)
    finally:
        engine.dispose()
    assert isinstance(row_id, int)
    assert again is None
    assert logged_events(infra, event.job_id) == 1


@pytest.mark.parametrize(("first", "late"), [("completed", "failed"), ("failed", "completed")])
def test_the_first_end_sticks(
    infra: Settings, projector: subprocess.Popen[bytes], first: str, late: str
) -> None:
    job_id = new_job_id()
    ends = {
        "completed": example("completed", job_id=job_id, output_key=f"jobs/{job_id}/assemble/output.mp4"),
        "failed": example("failed", job_id=job_id),
    }
    start = example("accepted", job_id=job_id, chunk_count=1)
    submit = admitted(job_id, webhook_url=f"http://{RECEIVER_HOST}:9/hook/{job_id}")
    Publisher(infra).publish(submit, start, ends[first], ends[late])
    wait_until(lambda: logged_events(infra, job_id) == 3, what="3 projected events")
    # The submit comes on another topic and may be projected after the events: wait for it too (the
    # job's webhook URL comes from it alone), then the delivery must be there, whichever came first.
    wait_until(lambda: snapshot(infra, job_id)["jobs"][0]["webhook_url"] is not None, what="the submit")
    rows = snapshot(infra, job_id)
    job = rows["jobs"][0]
    assert job["status"] == first
    assert [e["event_type"] for e in rows["job_events"]] == ["accepted", first, late]
    assert (job["error_code"] is None) == (first == "completed")
    assert bool(rows["artifacts"]) == (first == "completed")
    # The webhook announces the end that counted, once.
    assert [d["payload"]["event_type"] for d in rows["webhook_deliveries"]] == [first]


# An API process lives through the outage, so its log shows how its EventHub copes (not asserted here).
@pytest.mark.usefixtures("api")
def test_postgres_restarted_while_events_flow(infra: Settings, projector: subprocess.Popen[bytes]) -> None:
    publisher = Publisher(infra)
    start = accepted("key_projector_test", chunks=200)
    publisher.publish(start)
    # The projector must be past its start-up migrations, which an outage would make it exit on.
    wait_until(lambda: logged_events(infra, start.job_id) == 1, timeout=60, what="the projector to run")
    published: list[LifecycleEvent] = [start]
    flowing = threading.Event()

    def flow() -> None:
        """About 20 events a second for about 6 s, one at a time as workers publish them."""
        flowing.set()
        for done in range(1, 121):
            stage = ("segment", "matte", "composite")[done % 3]
            event = progress(start.job_id, done, total=200, stage=stage)
            publisher.publish(event)
            published.append(event)
            time.sleep(0.05)

    producer = threading.Thread(target=flow, name="lifecycle-events")
    server = PostgresServer(infra)
    producer.start()
    try:
        flowing.wait(10)
        time.sleep(1.5)
        server.stop()  # pg_ctl stop -m fast, as `backdrop infra down` stops it
        down_at = len(published)
        time.sleep(2.0)
        server.up()  # as `backdrop infra up` starts it
        up_at = len(published)
    finally:
        producer.join(60)
        if not server.is_ready():
            server.up()
        wait_until(server.is_ready, timeout=60, what="PostgreSQL to answer again")
    assert not producer.is_alive()
    assert up_at > down_at, "no event was published while PostgreSQL was down"
    wait_until(
        lambda: logged_events(infra, start.job_id) == len(published),
        timeout=90,
        what=f"{len(published)} projected events",
    )
    rows = snapshot(infra, start.job_id)["job_events"]
    assert sorted(str(r["event_id"]) for r in rows) == sorted(str(e.event_id) for e in published)
    assert rows[-1]["event_id"] == published[-1].event_id  # per-job order kept


def alter_system(settings: Settings, statement: str) -> None:
    engine = create_engine(settings.postgres_dsn, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
            conn.execute(text("SELECT pg_reload_conf()"))
    finally:
        engine.dispose()


@contextlib.contextmanager
def slow_wal_writer(settings: Settings) -> Iterator[None]:
    """Widen the window in which commits are visible but not on disk, as a busy disk would."""
    alter_system(settings, "ALTER SYSTEM SET wal_writer_delay = '10s'")
    try:
        yield
    finally:
        wait_until(PostgresServer(settings).is_ready, timeout=60, what="PostgreSQL to answer again")
        alter_system(settings, "ALTER SYSTEM RESET wal_writer_delay")


def event_ids(settings: Settings, job_id: str) -> dict[uuid.UUID, int]:
    """The job's logged events: event id → SSE id."""
    return {row["event_id"]: row["id"] for row in snapshot(settings, job_id)["job_events"]}


def _crash_once(settings: Settings, server: PostgresServer) -> tuple[int, int]:
    """Events projected, then PostgreSQL killed before its WAL writer flushed them: after the restart every
    event is there and no id a client saw was given to another event. (events taken back, published)"""
    publisher = Publisher(settings)
    start = accepted("key_projector_test", chunks=100)
    published: list[LifecycleEvent] = [start]
    publisher.publish(start)
    wait_until(lambda: logged_events(settings, start.job_id) == 1, timeout=60, what="the projector to run")
    with slow_wal_writer(settings):
        for done in range(1, 41):
            event = progress(start.job_id, done, total=100)
            publisher.publish(event)
            published.append(event)
            time.sleep(0.02)
        wait_until(
            lambda: logged_events(settings, start.job_id) == len(published), what="the events projected"
        )
        seen = event_ids(settings, start.job_id)  # what an SSE client may have been sent
        server.crash()
        server.up()
    wait_until(
        lambda: logged_events(settings, start.job_id) == len(published),
        timeout=90,
        what=f"{len(published)} events after the crash",
    )
    after = event_ids(settings, start.job_id)
    assert set(after) == {e.event_id for e in published}
    highest_seen = max(seen.values())
    replayed = {event_id for event_id, row_id in after.items() if seen.get(event_id) != row_id}
    assert all(after[event_id] > highest_seen for event_id in replayed), "a replayed event reused an id"
    return len(replayed), len(published)


def test_postgres_crash_loses_no_event_and_reuses_no_id(
    infra: Settings, projector: subprocess.Popen[bytes]
) -> None:
    """Commits a crash takes back are projected again, under ids above every id a client could have seen.

    The check means something only when the crash took some back: should a WAL flush land between the
    last commit and the kill (it runs every 10 s here), the round is tried again."""
    server = PostgresServer(infra)
    for round_ in range(1, 4):
        replayed, published = _crash_once(infra, server)
        logging.getLogger(__name__).info(
            "round %d: the crash took back %d of %d events", round_, replayed, published
        )
        if replayed:
            return
    raise AssertionError("three crashes in a row took back no event: the replay path went untested")


def committed(settings: Settings, group: str, partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
    consumer = Consumer({**settings.kafka_config, "group.id": group, "log_level": 3})
    try:
        found = consumer.committed([TopicPartition(p.topic, p.partition) for p in partitions], timeout=10)
        return {(p.topic, p.partition): p.offset for p in found}
    finally:
        consumer.close()


def test_offsets_are_committed_once_flushed_while_running_and_at_stop(infra: Settings) -> None:
    """The asynchronous commits still move the group along: while it runs, and all the way when it stops."""
    since = topic_ends(infra)
    events = full_sequence(new_job_id())
    Publisher(infra).publish(*events)
    ends = {(p.topic, p.partition): p.offset for p in topic_ends(infra)}
    with projector_in_process(infra, {e.event_id for e in events}, since) as (handler, worker):
        assert handler.done.wait(60), "the projector did not handle the events"
        # Other tests' events may land after `ends`; reaching it is what counts.
        wait_until(
            lambda: all(committed(infra, handler.group, since)[key] >= end for key, end in ends.items()),
            timeout=10,
            what="offsets committed while running",
        )
    assert worker.offsets.unflushed == 0
    final = committed(infra, handler.group, since)
    assert all(final[key] >= end for key, end in ends.items())


def test_a_completed_event_cannot_point_at_another_jobs_objects(
    infra: Settings, projector: subprocess.Popen[bytes]
) -> None:
    # The attack: whoever could publish to backdrop.jobs announced `completed` with another job's output
    # key, and the API presigned that object for the publisher's key.
    job_id, victim = new_job_id(), new_job_id()
    forged = example(
        "completed",
        job_id=job_id,
        output_key=f"jobs/{victim}/assemble/output.mp4",
        hero_keys=[f"jobs/{victim}/composite/00000/hero.png"],
        poster_key=f"jobs/{job_id}/../{victim}/poster.jpg",
    )
    Publisher(infra).publish(example("accepted", job_id=job_id, chunk_count=1), forged)
    wait_until(lambda: logged_events(infra, job_id) == 2, what="2 projected events")
    rows = snapshot(infra, job_id)
    assert rows["jobs"][0]["status"] == "completed"
    assert rows["artifacts"] == []
