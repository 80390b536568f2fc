"""Batches: jobs started together (several files in one upload, several sources in one request), read and
followed together."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import RowMapping
from sse_starlette import EventSourceResponse

from api.deps import CallerDep, ServicesDep
from api.models import BatchCreate, BatchLinks, BatchOut, Problem
from api.readmodel import batch_jobs, is_terminal, job_out
from api.routes.events import JobStream, LastEventId, checked_cursor, counted_stream, sse_answer
from api.routes.jobs import IdempotencyKey, options_of, source_of, start_job
from api.services import Services
from api.submission import Submission, request_hash
from schemas.common import new_id

router = APIRouter(prefix="/v1/batches", tags=["batches"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such batch for this key."}
}


def new_batch_id() -> str:
    return new_id("batch")


def batch_out(svc: Services, batch_id: str, rows: Sequence[RowMapping]) -> BatchOut:
    base = f"/v1/batches/{batch_id}"
    jobs = [job_out(row, svc.artifacts.url) for row in rows]
    return BatchOut(
        id=batch_id,
        status="ended" if all(is_terminal(job.status) for job in jobs) else "running",
        counts=dict(Counter(job.status for job in jobs)),
        jobs=jobs,
        links=BatchLinks(self=base, events=f"{base}/events"),
    )


async def read_batch(svc: Services, owner: str, batch_id: str) -> BatchOut:
    async with svc.reader.connect() as conn:
        rows = await batch_jobs(conn, owner, batch_id)
    if not rows:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no batch {batch_id} for this key")
    return batch_out(svc, batch_id, rows)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={422: {"model": Problem}, 503: {"model": Problem}},
    summary="Start one job per source (uploaded objects or HTTPS URLs), as one batch",
)
async def create_batch(
    body: BatchCreate, svc: ServicesDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> BatchOut:
    options = await options_of(svc, caller.key_id, body)
    # Every source is checked before any job starts: a batch starts whole or not at all.
    sources = [
        await source_of(svc, caller.key_id, given, options, f"sources[{i}]")
        for i, given in enumerate(body.sources)
    ]
    webhook = str(body.webhook_url) if body.webhook_url else None
    batch_id = new_batch_id()
    body_hash = request_hash(body.model_dump(mode="json"))
    for i, source in enumerate(sources):
        # One Idempotency-Key stands for the whole batch: each job keeps its own share of it.
        key = f"{idempotency_key}#{i}" if idempotency_key else None
        await start_job(svc, caller.key_id, Submission(source, options, webhook, batch_id), key, body_hash)
    return await read_batch(svc, caller.key_id, batch_id)


@router.get("/{batch_id}", responses=NOT_FOUND, summary="A batch: its jobs, and how many are in each state")
async def get_batch(batch_id: str, svc: ServicesDep, caller: CallerDep) -> BatchOut:
    return await read_batch(svc, caller.key_id, batch_id)


@router.get(
    "/{batch_id}/events",
    responses={
        200: sse_answer(
            "The lifecycle events of every job of the batch, in the order they happened; the stream ends "
            "once every job has ended."
        ),
        **NOT_FOUND,
    },
    response_class=EventSourceResponse,
    summary="Follow every job of a batch on one stream (SSE); resume with Last-Event-ID",
)
async def batch_events(
    batch_id: str,
    svc: ServicesDep,
    caller: CallerDep,
    last_event_id: LastEventId = None,
) -> EventSourceResponse:
    after = checked_cursor(last_event_id)
    async with svc.reader.connect() as conn:
        rows = await batch_jobs(conn, caller.key_id, batch_id)
    if not rows:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no batch {batch_id} for this key")
    seen_end = frozenset(
        row["id"] for row in rows if is_terminal(row["status"]) and (row["last_event_id"] or 0) <= after
    )
    stream = JobStream(svc, tuple(row["id"] for row in rows), after, seen_end)
    over = all(is_terminal(row["status"]) for row in rows)
    return counted_stream(svc, caller.key_id, stream.events(already_over=over))
