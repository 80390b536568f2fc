"""`backdrop submit`: upload a file, publish the submit event, follow the job on `backdrop.jobs`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, Producer
from pydantic import ValidationError

from base.errors import BackdropError, InputNotFound
from base.settings import Settings
from schemas import (
    LIFECYCLE_ADAPTER,
    TERMINAL_TYPES,
    JobOptions,
    LifecycleEvent,
    ObjectRef,
    ObjectSource,
    SubmitJob,
    new_job_id,
)
from streams.codec import encode
from streams.follow import consumer_at_end
from streams.s3_store import s3_store
from streams.store import SUBMITTED_PREFIX
from streams.topics import JOBS, UPLOADS


class JobTimedOut(BackdropError):
    code = "job_timed_out"


def follow_from_now(settings: Settings) -> Consumer:
    """A consumer on `backdrop.jobs` that sees only what comes next."""
    return consumer_at_end(settings, JOBS.name, "backdrop-submit")


def submit(settings: Settings, source: Path, options: JobOptions) -> SubmitJob:
    """Upload ``source`` to the uploads bucket and publish its submit event; returns the event."""
    if not source.is_file():
        raise InputNotFound(f"{source} does not exist")
    job_id = new_job_id()
    # Under submitted/: the bucket notification ignores these, the submit event below starts the job.
    key = f"{SUBMITTED_PREFIX}{job_id}/{source.name}"
    s3_store(settings, settings.uploads_bucket).put_file(key, source)
    event = SubmitJob(
        event_type="submit",
        job_id=job_id,
        source=ObjectSource(object=ObjectRef(bucket=settings.uploads_bucket, key=key)),
        options=options,
    )
    producer = Producer({**settings.kafka_config, "enable.idempotence": True})
    producer.produce(UPLOADS.name, value=encode(event), key=job_id.encode())
    if producer.flush(30):
        raise BackdropError(
            f"could not publish to {UPLOADS.name} at {settings.kafka_bootstrap}: is Kafka up?"
        )
    return event


def wait_for(
    consumer: Consumer,
    job_id: str,
    *,
    timeout_s: float,
    on_event: Callable[[LifecycleEvent], None] = lambda event: None,
) -> LifecycleEvent:
    """Lifecycle events of ``job_id`` until the terminal one, which is returned."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error() or message.key() != job_id.encode():
            continue
        try:
            event = LIFECYCLE_ADAPTER.validate_json(message.value() or b"")
        except ValidationError:
            continue  # a newer event type we do not know: not ours to judge
        on_event(event)
        if event.event_type in TERMINAL_TYPES:
            return event
    raise JobTimedOut(
        f"job {job_id} did not finish within {timeout_s:.0f} s; are the workers up (`backdrop up`)?"
    )
