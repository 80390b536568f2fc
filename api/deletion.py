"""A job's storage, and deleting a job: its objects, its upload, its records, announced on backdrop.jobs.

Only an ended job can be deleted: a running one would write its objects again. The objects go first,
then the `deleted` event, then the rows; a failure at any step leaves a job that can be deleted again
(every step finds less to do), and the projector takes the rows away on the event in any case.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError

from api.models import JobOut
from api.projection import forget_job
from api.services import Services
from api.submission import Unavailable
from schemas import JobDeleted
from streams.codec import encode
from streams.errors import ObjectNotFound, RetryableError, StoreRefused
from streams.retention import Usage, recorded_completion, removable, upload_made_for, usage
from streams.store import job_prefix
from streams.topics import JOBS
from streams.worker import event_id


@dataclass(frozen=True)
class Deleted:
    objects: int
    bytes: int


def _upload_key(job: JobOut) -> str | None:
    """The job's source object in the uploads bucket, if it has one."""
    source: dict[str, Any] = job.source or {}
    found = source.get("object", {}).get("key") if isinstance(source.get("object"), dict) else None
    return found if isinstance(found, str) else None


def storage(svc: Services, job: JobOut, owner: str) -> tuple[Usage, int]:
    """What the job keeps in the artifacts bucket, and the size of the upload made for it (0 if none)."""
    sizes = svc.artifacts.sizes(job_prefix(job.id))
    upload = _upload_key(job)
    upload_bytes = 0
    if upload is not None and upload_made_for(upload, owner, job.id):
        with contextlib.suppress(ObjectNotFound):
            upload_bytes = svc.uploads.size(upload)
    return usage(sizes, job.id, recorded_completion(svc.artifacts, job.id)), upload_bytes


def _delete_objects(svc: Services, job: JobOut, owner: str) -> Deleted:
    sizes = svc.artifacts.sizes(job_prefix(job.id))
    doomed = removable(sizes, job.id)
    freed = sum(sizes[key] for key in doomed)
    svc.artifacts.delete(doomed)
    upload = _upload_key(job)
    count = len(doomed)
    if upload is not None and upload_made_for(upload, owner, job.id):
        try:
            freed += svc.uploads.size(upload)
            svc.uploads.delete([upload])
            count += 1
        except ObjectNotFound:
            pass
    return Deleted(count, freed)


async def delete_job(svc: Services, job: JobOut, owner: str) -> Deleted:
    """Delete an ended job of ``owner``; Unavailable (try again) when a store or Kafka is away."""
    try:
        deleted = await asyncio.to_thread(_delete_objects, svc, job, owner)
    except (RetryableError, StoreRefused) as exc:
        raise Unavailable(f"the object store did not delete the job's objects ({exc}); try again") from exc
    event = JobDeleted(
        event_type="deleted",
        event_id=event_id(job.id, "deleted"),
        job_id=job.id,
        objects_deleted=deleted.objects,
        bytes_deleted=deleted.bytes,
    )
    try:
        await svc.producer.send_and_wait(JOBS.name, encode(event), key=job.id.encode())
    except KafkaError as exc:
        raise Unavailable(f"Kafka did not take the deletion ({exc}); try again") from exc
    async with svc.engine.begin() as conn:
        await conn.run_sync(forget_job, job.id, svc.settings.retention_days)
    svc.hub.jobs.invalidate(job.id)
    return deleted
