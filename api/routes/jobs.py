"""Jobs: submit, list, read, cancel, delete, and what a job stores."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status

from api.deletion import delete_job, storage
from api.deps import CallerDep, ServicesDep
from api.models import (
    JobCreate,
    JobDeletion,
    JobOut,
    JobPage,
    JobStatus,
    JobStorage,
    ObjectKeySource,
    Problem,
    RenderOptions,
    UrlSourceIn,
)
from api.readmodel import decode_cursor, encode_cursor, get_job, is_terminal, job_out, list_jobs
from api.services import Services
from api.submission import Submission, cancel, request_hash, submit
from base.errors import InputError, ObjectRefused
from schemas import JobOptions, ObjectRef, ObjectSource, Source, UrlSource
from schemas.models import UnknownModel, check_model
from streams.errors import ObjectNotFound
from streams.ownership import check_references, with_assets

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such job for this key."}
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Same key and body → the same job; same key, another body → 422.",
    ),
]


async def job_or_404(svc: Services, job_id: str, owner: str) -> JobOut:
    async with svc.reader.connect() as conn:
        row = await get_job(conn, job_id, owner)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id} for this key")
    return job_out(row, svc.artifacts.url)


async def check_public_url(svc: Services, url: str, what: str) -> None:
    """Refuse URLs that point inside our network (the fetch checks again when it connects)."""
    from base.ssrf import check_url

    try:
        await asyncio.to_thread(check_url, url, svc.settings.url_allow_networks)
    except InputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{what}: {exc.message}") from exc


async def options_of(svc: Services, owner: str, body: RenderOptions) -> JobOptions:
    """The job's options, an ``asset:ID`` background turned into the key's uploaded file; 422 for a
    model the workers do not serve or an asset the key does not have (the rest was validated already)."""
    try:
        check_model(body.model, svc.models)
        options = body.job_options()
        uploads = svc.settings.uploads_bucket
        return await asyncio.to_thread(with_assets, options, owner, svc.uploads, uploads)
    except UnknownModel as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except ObjectRefused as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.message) from exc


def _object(svc: Services, key: str) -> ObjectSource:
    return ObjectSource(object=ObjectRef(bucket=svc.settings.uploads_bucket, key=key))


def _check_references(svc: Services, owner: str, source: Source, options: JobOptions) -> None:
    """422 for an object outside the key's own uploads (another key's, or another bucket)."""
    try:
        check_references(owner, source, options, svc.settings.uploads_bucket)
    except ObjectRefused as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.message) from exc


async def start_job(
    svc: Services,
    owner: str,
    submission: Submission,
    idempotency_key: str | None,
    body_hash: str,
    job_id: str | None = None,
) -> JobOut:
    """Validate what needs the network, record and publish; the job as it stands."""
    _check_references(svc, owner, submission.source, submission.options)
    if submission.webhook_url is not None:
        await check_public_url(svc, submission.webhook_url, "webhook_url")
    # IdempotencyConflict and Unavailable become 422 and 503 in api.app.
    job = await submit(svc, owner, submission, idempotency_key, body_hash, job_id)
    return await job_or_404(svc, job, owner)


async def source_of(
    svc: Services, owner: str, given: ObjectKeySource | UrlSourceIn, options: JobOptions, what: str
) -> ObjectSource | UrlSource:
    """The job's source: an object of the key's that is there, or a public HTTPS URL (422 otherwise)."""
    if isinstance(given, ObjectKeySource):
        _check_references(svc, owner, _object(svc, given.object_key), options)
        try:
            await asyncio.to_thread(svc.uploads.size, given.object_key)
        except ObjectNotFound as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"no object {given.object_key!r} in the uploads bucket: upload it first "
                "(POST /v1/uploads, or /v1/uploads/presign)",
            ) from exc
        return _object(svc, given.object_key)
    await check_public_url(svc, str(given.url), f"{what}.url")
    return UrlSource(url=given.url)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={422: {"model": Problem}, 503: {"model": Problem}},
    summary="Start a job from an uploaded object or an HTTPS URL",
)
async def create_job(
    body: JobCreate, svc: ServicesDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> JobOut:
    options = await options_of(svc, caller.key_id, body)
    source = await source_of(svc, caller.key_id, body.source, options, "source")
    webhook = str(body.webhook_url) if body.webhook_url else None
    submission = Submission(source, options, webhook)
    return await start_job(
        svc, caller.key_id, submission, idempotency_key, request_hash(body.model_dump(mode="json"))
    )


@router.get("", summary="List this key's jobs, newest first")
async def jobs(
    svc: ServicesDep,
    caller: CallerDep,
    status_filter: Annotated[
        JobStatus | None, Query(alias="status", description="Only jobs in this state.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=64, description="next_cursor of the previous page.")
    ] = None,
) -> JobPage:
    try:
        before = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "cursor is not one this API handed out"
        ) from exc
    async with svc.reader.connect() as conn:
        rows = await list_jobs(conn, caller.key_id, status_filter, limit + 1, before)
    items = [job_out(row, svc.artifacts.url) for row in rows[:limit]]
    more = len(rows) > limit
    return JobPage(items=items, next_cursor=encode_cursor(rows[limit - 1]["seq"]) if more else None)


@router.get(
    "/{job_id}",
    response_model=JobOut,
    responses=NOT_FOUND,
    summary="A job: status, progress, timings, error, artifacts",
)
async def job(job_id: str, svc: ServicesDep, caller: CallerDep) -> Response:
    # Polled jobs are answered from the process's cache until their next event (api.jobcache).
    body = svc.hub.jobs.get(job_id, caller.key_id)
    if body is None:
        read_began = svc.hub.jobs.generation
        body = (await job_or_404(svc, job_id, caller.key_id)).model_dump_json().encode()
        svc.hub.jobs.put(job_id, caller.key_id, body, read_began)
    return Response(body, media_type="application/json")


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, 409: {"model": Problem, "description": "The job has already ended."}},
    summary="Stop a job: workers skip its remaining chunks",
)
async def cancel_job(job_id: str, svc: ServicesDep, caller: CallerDep) -> JobOut:
    current = await job_or_404(svc, job_id, caller.key_id)
    if is_terminal(current.status):
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} has already {current.status}")
    await cancel(svc, job_id, "cancelled by the owner")
    return current


@router.get(
    "/{job_id}/storage",
    responses=NOT_FOUND,
    summary="What the job keeps in the object store: outputs, intermediates, its upload",
)
async def job_storage(job_id: str, svc: ServicesDep, caller: CallerDep) -> JobStorage:
    current = await job_or_404(svc, job_id, caller.key_id)
    kept, upload_bytes = await asyncio.to_thread(storage, svc, current, caller.key_id)
    return JobStorage(
        job_id=job_id,
        objects=kept.objects,
        bytes=kept.bytes,
        output_bytes=kept.output_bytes,
        intermediate_bytes=kept.intermediate_bytes,
        upload_bytes=upload_bytes,
    )


@router.delete(
    "/{job_id}",
    responses={
        **NOT_FOUND,
        409: {"model": Problem, "description": "The job is still running: cancel it first."},
        503: {"model": Problem},
    },
    summary="Delete an ended job: its outputs, intermediates, upload and records",
)
async def remove_job(job_id: str, svc: ServicesDep, caller: CallerDep) -> JobDeletion:
    current = await job_or_404(svc, job_id, caller.key_id)
    if not is_terminal(current.status):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"job {job_id} is {current.status}: cancel it first (POST /v1/jobs/{job_id}/cancel), then "
            "delete it once it reports cancelled",
        )
    deleted = await delete_job(svc, current, caller.key_id)
    return JobDeletion(job_id=job_id, objects_deleted=deleted.objects, bytes_deleted=deleted.bytes)
