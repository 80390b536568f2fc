"""The command side of the API: a job's row, then its submit event on ``backdrop.uploads``.

The row is written first so ``GET /v1/jobs/{id}`` answers the moment the 202 is out; the event follows.
If Kafka refuses the event the row is removed again and the caller gets a 503 to retry. A retry with the
same Idempotency-Key finds the row and publishes the (deterministic) event again if the job is still
queued some seconds after it was recorded, so a crash between the two steps cannot strand a job; of
concurrent repeats, one publishes at most.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from opentelemetry import trace
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from api.services import Services
from api.tables import Job
from base.errors import BackdropError
from schemas import JobCancelled, JobOptions, Source, SubmitJob, new_job_id
from streams.codec import encode
from streams.errors import RetryableError, StoreRefused
from streams.signing import sign_submit, submit_secret
from streams.stopped import stop_key
from streams.topics import JOBS, UPLOADS
from streams.tracing import inject, publish_span
from streams.worker import event_id

# A repeated request publishes its job again only if it is still queued this long after it was recorded:
# sooner, the first request is most likely still publishing it.
REPUBLISH_AFTER_S = 10.0
_tracer = trace.get_tracer("backdrop.api")


class IdempotencyConflict(BackdropError):
    code = "idempotency_conflict"


class Unavailable(BackdropError):
    code = "unavailable"


@dataclass(frozen=True)
class Submission:
    source: Source
    options: JobOptions
    webhook_url: str | None
    batch_id: str | None = None


def request_hash(body: dict[str, Any]) -> str:
    """Same body, same hash: keys sorted, so field order does not matter."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def submit_event(job_id: str, owner: str, submission: Submission, idempotency_key: str | None) -> SubmitJob:
    return SubmitJob.model_validate(
        {
            "event_type": "submit",
            "event_id": event_id(job_id, "submit"),
            "job_id": job_id,
            "source": submission.source,
            "options": submission.options,
            "webhook_url": submission.webhook_url,
            "owner": owner,
            "idempotency_key": idempotency_key,
        }
    )


async def record_job(
    services: Services,
    owner: str,
    submission: Submission,
    idempotency_key: str | None,
    body_hash: str,
    job_id: str | None = None,
) -> tuple[str, bool]:
    """Insert the job's row: (job id, True) when new, (the earlier job's id, False) on a repeated key."""
    new_id = job_id or new_job_id()
    async with services.engine.begin() as conn:
        inserted = (
            await conn.execute(
                insert(Job)
                .values(
                    id=new_id,
                    owner=owner,
                    status="queued",
                    source=submission.source.model_dump(mode="json"),
                    options=submission.options.model_dump(mode="json"),
                    webhook_url=submission.webhook_url,
                    idempotency_key=idempotency_key,
                    request_hash=body_hash,
                    batch_id=submission.batch_id,
                )
                .on_conflict_do_nothing()
                .returning(Job.id)
            )
        ).scalar_one_or_none()
        if inserted is not None:
            return inserted, True
        earlier = (
            await conn.execute(
                select(Job.id, Job.request_hash).where(
                    Job.owner == owner, Job.idempotency_key == idempotency_key
                )
            )
        ).one_or_none()
    if earlier is None:
        raise Unavailable("could not record the job (an id collision); submit again")
    if earlier.request_hash != body_hash:
        raise IdempotencyConflict(
            f"Idempotency-Key {idempotency_key!r} was used for a different request (job {earlier.id}); "
            "use a new key for a new job"
        )
    return earlier.id, False


async def submit(
    services: Services,
    owner: str,
    submission: Submission,
    idempotency_key: str | None,
    body_hash: str,
    job_id: str | None = None,
) -> str:
    """Record and publish a job; returns its id. Raises IdempotencyConflict or Unavailable."""
    job, created = await record_job(services, owner, submission, idempotency_key, body_hash, job_id)
    if not created and not await _stranded(services, job):
        return job
    event = submit_event(job, owner, submission, idempotency_key)
    body = encode(event)
    # Signed like any producer's submit for a key: the extract gate credits no owner without proof.
    secret = submit_secret(services.settings.signing_secret.get_secret_value(), owner)
    try:
        # The job's trace: this request's span, then the submit's, which extract's span continues.
        with publish_span(_tracer, UPLOADS.name, job):
            await services.producer.send_and_wait(
                UPLOADS.name, body, key=job.encode(), headers=inject(sign_submit(secret, job, body))
            )
    except KafkaError as exc:
        if created:
            async with services.engine.begin() as conn:
                await conn.execute(delete(Job).where(Job.id == job))
        raise Unavailable(f"Kafka did not take the job ({exc}); submit again") from exc
    return job


async def _stranded(services: Services, job_id: str) -> bool:
    """Whether a repeated request should publish its job again: still queued a while after it was
    recorded (the first request died between its row and its event). Taken by one request only: the
    update moves the time on, so a concurrent repeat finds nothing to take."""
    async with services.engine.begin() as conn:
        taken = await conn.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.status == "queued",
                Job.submitted_at < func.now() - timedelta(seconds=REPUBLISH_AFTER_S),
            )
            .values(submitted_at=func.now())
            .returning(Job.id)
        )
        return taken.scalar_one_or_none() is not None


async def cancel(services: Services, job_id: str, reason: str) -> None:
    """Tell the workers to skip the job's remaining work and announce the end on ``backdrop.jobs``."""
    try:
        await asyncio.to_thread(services.artifacts.put_bytes, stop_key(job_id), reason.encode())
    except (RetryableError, StoreRefused) as exc:
        raise Unavailable(f"the object store did not take the cancellation ({exc}); try again") from exc
    event = JobCancelled(
        event_type="cancelled", event_id=event_id(job_id, "cancelled"), job_id=job_id, reason=reason
    )
    try:
        with publish_span(_tracer, JOBS.name, job_id):
            await services.producer.send_and_wait(
                JOBS.name, encode(event), key=job_id.encode(), headers=inject([])
            )
    except KafkaError as exc:
        raise Unavailable(f"Kafka did not take the cancellation ({exc}); try again") from exc


def new_upload_key(job_id: str, filename: str, prefix: str) -> str:
    """Where an API upload lands in the uploads bucket; the prefix keeps the notification from starting a
    second job (``submitted/``) or tells the ingest which job it belongs to (``presigned/``)."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[-128:] or "upload.bin"
    return f"{prefix}{job_id}/{uuid.uuid4().hex[:8]}-{safe}"
