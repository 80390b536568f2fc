"""What of a job's objects outlives the job.

Every object a job writes lies under its prefix in the artifacts bucket. When the job ends, only its
outputs stay (the output, the hero stills, the poster and the recorded completion event, which a late
task republishes), for ``BACKDROP_RETENTION_DAYS`` (a bucket lifecycle rule); everything else is an
intermediate and goes. Two markers stay as long as the outputs, whatever happens: the claim (the job
id stays taken) and the stop marker (a late task is skipped instead of making its objects again).
Deleting a job takes its outputs too, and the upload that was made for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas import JobCompleted, parse_lifecycle
from streams.errors import ObjectNotFound
from streams.ownership import claim_key
from streams.stopped import stop_key
from streams.store import PRESIGNED_PREFIX, SUBMITTED_PREFIX, ObjectStore, in_job, job_prefix, object_key


def completion_key(job_id: str) -> str:
    """Where the assemble stage records the completion event before publishing it."""
    return object_key(job_id, "assemble", None, "completed.json")


def recorded_completion(store: ObjectStore, job_id: str) -> JobCompleted | None:
    """The job's completion as the assemble stage recorded it; None unless the job completed. This, not
    the events on the public topic, decides what a job keeps."""
    try:
        recorded = parse_lifecycle(store.get_bytes(completion_key(job_id)))
    except ObjectNotFound:
        return None
    return recorded if isinstance(recorded, JobCompleted) else None


def markers(job_id: str) -> frozenset[str]:
    return frozenset({claim_key(job_id), stop_key(job_id)})


def outputs(completed: JobCompleted) -> frozenset[str]:
    """The completed job's outputs (only those under its own prefix: the event is not proof)."""
    job_id = completed.job_id
    named = [
        completed.output_key,
        *completed.hero_keys,
        *completed.cutout_keys,
        completed.poster_key,
        completed.mask_key,
        completion_key(job_id),
    ]
    return frozenset(key for key in named if key is not None and in_job(key, job_id))


def intermediates(keys: Iterable[str], job_id: str, completed: JobCompleted | None) -> list[str]:
    """The keys (of ``job_id``'s objects) that go when the job ends; ``completed`` if it completed."""
    kept = markers(job_id) | (outputs(completed) if completed is not None else frozenset())
    return [key for key in keys if in_job(key, job_id) and key not in kept]


def removable(keys: Iterable[str], job_id: str) -> list[str]:
    """The keys that go when the job is deleted: all but the markers."""
    kept = markers(job_id)
    return [key for key in keys if in_job(key, job_id) and key not in kept]


def upload_made_for(key: str, owner: str | None, job_id: str) -> bool:
    """Whether ``key`` (in the uploads bucket) was uploaded through the API for this very job, so it goes
    with the job; any other object there is the owner's to keep."""
    if owner is None:
        return False
    return any(
        key.startswith(f"owners/{owner}/{prefix}{job_id}/") for prefix in (SUBMITTED_PREFIX, PRESIGNED_PREFIX)
    )


@dataclass(frozen=True)
class Usage:
    """Bytes a job keeps in the artifacts bucket, split by what they are."""

    objects: int
    bytes: int
    output_bytes: int
    intermediate_bytes: int


def usage(sizes: Mapping[str, int], job_id: str, completed: JobCompleted | None) -> Usage:
    """``sizes``: the job's objects and their sizes (``ObjectStore.sizes(job_prefix(job_id))``)."""
    passing = set(intermediates(sizes, job_id, completed))
    mine = {key: size for key, size in sizes.items() if key.startswith(job_prefix(job_id))}
    return Usage(
        objects=len(mine),
        bytes=sum(mine.values()),
        output_bytes=sum(size for key, size in mine.items() if key not in passing),
        intermediate_bytes=sum(size for key, size in mine.items() if key in passing),
    )
