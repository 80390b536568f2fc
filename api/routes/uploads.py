"""Uploads: a multipart file streamed to S3 and started at once, or a presigned PUT started on arrival."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile, status
from fastapi.routing import APIRoute
from pydantic import ValidationError

from api.deps import CallerDep, ServicesDep, authenticate
from api.models import BatchOut, JobOut, PresignOut, PresignRequest, Problem, RenderOptions
from api.routes.batches import new_batch_id, read_batch
from api.routes.jobs import IdempotencyKey, check_public_url, job_or_404, options_of, start_job
from api.services import Services
from api.submission import (
    Submission,
    new_upload_key,
    record_job,
    request_hash,
    submit_event,
)
from schemas import JobOptions, ObjectRef, ObjectSource, new_job_id
from streams.ownership import owner_prefix
from streams.store import PRESIGNED_PREFIX, SUBMITTED_PREFIX, pending_submit_key

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the option fields around the file


class KeyBeforeBody(APIRoute):
    """FastAPI reads a form body before it solves a route's dependencies, so an upload of any size would
    be read (and spooled to disk) before its key was looked at. These routes check the key, its rate
    limit and the declared size first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            await authenticate(request)
            declared = request.headers.get("content-length", "")
            limit = request.app.state.services.settings.upload_max_bytes + FORM_OVERHEAD
            if declared.isdigit() and int(declared) > limit:
                raise HTTPException(
                    status.HTTP_413_CONTENT_TOO_LARGE,
                    f"the upload declares {int(declared):,} bytes, over the limit of {limit:,}: use "
                    "POST /v1/uploads/presign for large files, or cut the video",
                )
            return await handler(request)

        return checked


router = APIRouter(prefix="/v1/uploads", tags=["uploads"], route_class=KeyBeforeBody)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={413: {"model": Problem}, 422: {"model": Problem}, 503: {"model": Problem}},
    summary="Upload a video or image (multipart) and start its job; several files start a batch",
)
async def upload(
    svc: ServicesDep,
    caller: CallerDep,
    file: Annotated[
        list[UploadFile],
        File(description="The video or image; repeat the field to upload several, started as one batch."),
    ],
    background: Annotated[str, Form(description="Background SPEC, as for POST /v1/jobs.")] = "blur",
    output_format: Annotated[
        str, Form(description="mp4, webm, mov or png (a ZIP of PNG frames); png, jpg or webp for a still.")
    ] = "mp4",
    model: Annotated[str, Form(description="Segmentation model: one GET /v1/models lists.")] = "selfie",
    quality: Annotated[str, Form(description="draft, standard or high.")] = "standard",
    mask: Annotated[
        bool, Form(description="Also keep the matte as a greyscale video (PNG for a still).")
    ] = False,
    heroes: Annotated[int, Form(ge=0, le=20, description="Hero stills to keep.")] = 5,
    webhook_url: Annotated[str | None, Form(description="Signed POST when the job ends.")] = None,
    idempotency_key: IdempotencyKey = None,
) -> JobOut | BatchOut:
    """One file: its job. Several: one job each, as one batch (GET /v1/batches/{id} follows them)."""
    try:
        form = RenderOptions.model_validate(
            {
                "background": background,
                "output_format": output_format,
                "model": model,
                "quality": quality,
                "mask": mask,
                "heroes": heroes,
                "webhook_url": webhook_url or None,
            }
        )
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, _first_error(exc)) from exc
    options = await options_of(svc, caller.key_id, form)
    sizes = [f.size if f.size is not None else await asyncio.to_thread(spooled_size, f) for f in file]
    if 0 in sizes:
        empty = file[sizes.index(0)].filename
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the uploaded file {empty!r} is empty")
    if len(file) == 1:
        return await _start_upload(svc, caller.key_id, file[0], sizes[0], form, options, idempotency_key)
    batch_id = new_batch_id()
    for i, (one, size) in enumerate(zip(file, sizes, strict=True)):
        # One Idempotency-Key stands for the whole batch: each job keeps its own share of it.
        key = f"{idempotency_key}#{i}" if idempotency_key else None
        await _start_upload(svc, caller.key_id, one, size, form, options, key, batch_id)
    return await read_batch(svc, caller.key_id, batch_id)


async def _start_upload(
    svc: Services,
    owner: str,
    file: UploadFile,
    size: int,
    form: RenderOptions,
    options: JobOptions,
    idempotency_key: str | None,
    batch_id: str | None = None,
) -> JobOut:
    job_id = new_job_id()
    key = new_upload_key(job_id, file.filename or "upload.bin", owner_prefix(owner) + SUBMITTED_PREFIX)
    content_type = file.content_type or "application/octet-stream"
    await asyncio.to_thread(svc.uploads.put_stream, key, file.file, size, content_type)
    submission = Submission(
        ObjectSource(object=ObjectRef(bucket=svc.settings.uploads_bucket, key=key)),
        options,
        str(form.webhook_url) if form.webhook_url else None,
        batch_id,
    )
    # The stored object differs per upload, so the idempotency hash covers the form and the file's size.
    body_hash = request_hash({**form.model_dump(mode="json"), "filename": file.filename, "size": size})
    return await start_job(svc, owner, submission, idempotency_key, body_hash, job_id)


@router.post(
    "/presign",
    status_code=status.HTTP_202_ACCEPTED,
    responses={422: {"model": Problem}},
    summary="Get a presigned PUT URL; the job starts when the upload completes",
)
async def presign(
    body: PresignRequest, svc: ServicesDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> PresignOut:
    options = await options_of(svc, caller.key_id, body)
    webhook = str(body.webhook_url) if body.webhook_url else None
    if webhook is not None:
        await check_public_url(svc, webhook, "webhook_url")
    job_id = new_job_id()
    key = f"{owner_prefix(caller.key_id)}{PRESIGNED_PREFIX}{job_id}/{body.filename}"
    submission = Submission(
        ObjectSource(object=ObjectRef(bucket=svc.settings.uploads_bucket, key=key)), options, webhook
    )
    job, created = await record_job(
        svc, caller.key_id, submission, idempotency_key, request_hash(body.model_dump(mode="json")), job_id
    )
    if created:
        # The ingest reads the options from here when the upload's notification arrives.
        event = submit_event(job, caller.key_id, submission, idempotency_key)
        await asyncio.to_thread(
            svc.artifacts.put_bytes,
            pending_submit_key(job),
            orjson.dumps(event.model_dump(mode="json")),
            "application/json",
        )
    current = await job_or_404(svc, job, caller.key_id)
    stored_key = (current.source or {}).get("object", {}).get("key", key)
    expiry = svc.settings.presign_expiry_s
    url = svc.uploads.upload_url(stored_key, timedelta(seconds=expiry))
    return PresignOut(job=current, upload_url=url, expires_in_s=expiry)


def spooled_size(upload: UploadFile) -> int:
    upload.file.seek(0, os.SEEK_END)
    size = upload.file.tell()
    upload.file.seek(0)
    return size


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
