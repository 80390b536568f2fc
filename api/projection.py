"""Fold lifecycle events (and submits) into the read model, idempotently by event id.

Each event is applied in one transaction with its row in ``job_events``: if that insert finds the event
id already there, the event was applied before and nothing else changes, so replaying the topic is a
no-op. Terminal states are sticky: the first of completed / failed / cancelled wins. New log rows are
announced with ``pg_notify`` inside the same transaction, so a listener hears of a row only once it is
committed and readable. A `deleted` event takes every row of the job away and leaves a tombstone: any
event of the job that comes after it (late, or a replay of the topics) is dropped, not projected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    String,
    Uuid,
    bindparam,
    case,
    delete,
    func,
    literal,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert

from api.tables import TERMINAL_STATUSES, Artifact, DeletedJob, Job, JobEvent, JobStage, WebhookDelivery
from schemas import (
    ChunkDone,
    JobAccepted,
    JobCancelled,
    JobCompleted,
    JobDeleted,
    JobFailed,
    LifecycleEvent,
    StageProgress,
    SubmitJob,
)
from schemas.progress import JobProgress, StageClock, job_progress
from streams.store import in_job

NOTIFY_CHANNEL = "backdrop_job_events"
# PostgreSQL caps a notification at 8000 bytes; bigger events are announced without their data and
# the listener reads them from the table.
NOTIFY_DATA_LIMIT = 7000
TERMINAL_EVENT_STATUS = {"completed": "completed", "failed": "failed", "cancelled": "cancelled"}

# The statements every event runs, built once: building and keying them per event cost more than
# PostgreSQL's work on them.
_DELETED = select(DeletedJob.job_id).where(DeletedJob.job_id == bindparam("job_id")).exists()
_LOG_EVENT = (
    insert(JobEvent)
    .from_select(
        ["event_id", "job_id", "event_type", "occurred_at", "payload"],
        select(
            bindparam("event_id", type_=Uuid()),
            bindparam("job_id", type_=String()),
            bindparam("event_type", type_=String()),
            bindparam("occurred_at", type_=DateTime(timezone=True)),
            bindparam("payload", type_=JSONB()),
        ).where(~_DELETED),
    )
    .on_conflict_do_nothing(index_elements=[JobEvent.event_id])
    .returning(JobEvent.id)
)
_ENSURE_JOB = insert(Job).on_conflict_do_nothing(index_elements=[Job.id])
# Parameters of statements that update a table are named after none of its columns: SQLAlchemy adds an
# execution parameter named like a column to an UPDATE's SET clause, in a WITH too.
_TOUCH_JOB = (
    update(Job)
    .where(Job.id == bindparam("for_job"))
    .values(updated_at=func.now(), last_event_id=func.greatest(Job.last_event_id, bindparam("log_row")))
)


def _clocks(stage: Any, done: Any, total: Any, first_at: Any, last_at: Any) -> Any:
    """Stage name → its counts and when it finished its first and its latest chunk (epoch seconds)."""
    return func.coalesce(
        func.jsonb_object_agg(
            stage,
            func.jsonb_build_object(
                "chunks_done",
                done,
                "chunks_total",
                total,
                "first_done",
                func.extract("epoch", first_at),
                "last_done",
                func.extract("epoch", last_at),
            ),
        ),
        literal_column("'{}'::jsonb"),
    )


_STAGE_COLUMNS = (
    JobStage.stage,
    JobStage.chunks_done,
    JobStage.chunks_total,
    JobStage.first_done_at,
    JobStage.updated_at,
)
# Each stage's clocks, by stage name, for a query on ``jobs``.
STAGE_CLOCKS = (
    select(_clocks(*_STAGE_COLUMNS)).where(JobStage.job_id == Job.id).scalar_subquery().label("stages")
)
_NOTIFY = select(func.pg_notify(NOTIFY_CHANNEL, bindparam("announced")))
# The job row touched and the new log row announced in one round trip (PostgreSQL runs a data-modifying
# WITH whether or not the query reads it).
_TOUCH_AND_NOTIFY = _NOTIFY.add_cte(_TOUCH_JOB.cte("touched"))
# The same for a progress event, whose log row also gets the job's progress as the SSE stream shows it.
_RECORD_AND_NOTIFY = _TOUCH_AND_NOTIFY.add_cte(
    update(JobEvent)
    .where(JobEvent.id == bindparam("log_row"))
    .values(payload=bindparam("shown", type_=JSONB()))
    .cte("recorded")
)
# A stage's finished-chunk count only grows, whatever order the events arrive in; its first time only
# goes back.
_STAGE = insert(JobStage).values(
    job_id=bindparam("for_job"),
    stage=bindparam("at_stage"),
    chunks_done=bindparam("done"),
    chunks_total=bindparam("total"),
    updated_at=bindparam("moment", type_=DateTime(timezone=True)),
    first_done_at=bindparam("moment", type_=DateTime(timezone=True)),
)
_COUNTED = (
    _STAGE.on_conflict_do_update(
        index_elements=[JobStage.job_id, JobStage.stage],
        set_={
            "chunks_done": func.greatest(JobStage.chunks_done, _STAGE.excluded.chunks_done),
            "chunks_total": _STAGE.excluded.chunks_total,
            "updated_at": func.greatest(JobStage.updated_at, _STAGE.excluded.updated_at),
            "first_done_at": func.least(JobStage.first_done_at, _STAGE.excluded.first_done_at),
        },
    )
    .returning(*_STAGE_COLUMNS)
    .cte("counted")
)
# The stage's count, a queued job started, and the job's progress read back, in one round trip. The
# statement's reads see the rows as they were before it, so its stages are the job's others as stored
# and this one as counted.
_stage_rows = union_all(
    select(*_STAGE_COLUMNS).where(
        JobStage.job_id == bindparam("for_job"), JobStage.stage != bindparam("at_stage")
    ),
    select(*_COUNTED.c),
).subquery("stage_rows")
_COUNT_STAGE = (
    select(
        Job.status,
        Job.chunk_count,
        Job.media["frame_count"].astext.cast(Integer).label("frame_count"),
        Job.accepted_at,
        select(_clocks(*_stage_rows.c)).scalar_subquery().label("stages"),
    )
    .where(Job.id == bindparam("for_job"))
    .add_cte(_COUNTED)
    .add_cte(
        update(Job)
        .where(Job.id == bindparam("for_job"), Job.status == "queued")
        .values(status="running")
        .cte("started")
    )
)
_COUNT_CHUNK = (
    update(Job)
    .where(Job.id == bindparam("job_id"))
    .values(
        chunks_done=func.greatest(Job.chunks_done, bindparam("chunks_done")),
        chunk_count=func.coalesce(Job.chunk_count, bindparam("chunks_total")),
    )
)


def notify_payload(row_id: int, job_id: str, event_type: str, data: dict[str, Any]) -> str:
    """What a ``job_events`` row is announced with: its id, job, type and (if small) the event."""
    body = orjson.dumps(data)
    announced: dict[str, Any] = {"id": row_id, "job_id": job_id, "event_type": event_type}
    if len(body) <= NOTIFY_DATA_LIMIT:
        announced["data"] = orjson.Fragment(body)
    return orjson.dumps(announced).decode()


def project_submit(conn: Connection, submit: SubmitJob) -> None:
    """A submit seen on ``backdrop.uploads``: the job exists (queued) with its options and webhook."""
    if conn.execute(select(_DELETED), {"job_id": submit.job_id}).scalar():
        return
    values = {
        "id": submit.job_id,
        "owner": submit.owner,
        "status": "queued",
        "source": submit.source.model_dump(mode="json"),
        "options": submit.options.model_dump(mode="json"),
        "webhook_url": str(submit.webhook_url) if submit.webhook_url else None,
        "idempotency_key": submit.idempotency_key,
        "submitted_at": submit.occurred_at,
    }
    statement = insert(Job).values(**values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[Job.id],
            set_={
                # The API wrote the row first, or a lifecycle event overtook the submit: fill what is missing.
                "source": func.coalesce(Job.source, statement.excluded.source),
                "options": func.coalesce(Job.options, statement.excluded.options),
                "webhook_url": func.coalesce(Job.webhook_url, statement.excluded.webhook_url),
                "owner": func.coalesce(Job.owner, statement.excluded.owner),
            },
        )
    )
    # A job that failed before its submit was projected (e.g. a corrupt upload) still owes its webhook.
    _enqueue_webhook_for_finished(conn, submit.job_id)


def project_event(conn: Connection, event: LifecycleEvent) -> int | None:
    """Apply one lifecycle event; the new ``job_events`` id, or None if it was applied before (or its
    job is deleted)."""
    payload = event.model_dump(mode="json")
    if isinstance(event, JobDeleted):
        forget_job(conn, event.job_id)
        # Row 0: no log row stays to point at; API processes drop what they cached of the job.
        conn.execute(_NOTIFY, {"announced": notify_payload(0, event.job_id, event.event_type, payload)})
        return None
    row_id = conn.execute(
        _LOG_EVENT,
        {
            "event_id": event.event_id,
            "job_id": event.job_id,
            "event_type": event.event_type,
            "occurred_at": event.occurred_at,
            "payload": payload,
        },
    ).scalar_one_or_none()
    if row_id is None:
        return None
    conn.execute(_ENSURE_JOB, {"id": event.job_id, "status": "queued", "submitted_at": event.occurred_at})
    touch = {"for_job": event.job_id, "log_row": row_id}
    if isinstance(event, StageProgress | ChunkDone):
        if isinstance(event, ChunkDone):
            conn.execute(
                _COUNT_CHUNK,
                {
                    "job_id": event.job_id,
                    "chunks_done": event.chunks_done,
                    "chunks_total": event.chunks_total,
                },
            )
        # A chunk is done when encode has checked its segment: chunk_done is the encode stage's progress.
        stage = event.stage if isinstance(event, StageProgress) else "encode"
        counted = {"at_stage": stage, "done": event.chunks_done, "total": event.chunks_total}
        job = conn.execute(_COUNT_STAGE, touch | counted | {"moment": event.occurred_at}).one()
        # The log keeps the event as the SSE stream shows it: with the whole job's progress at that moment.
        payload["progress"] = progress_of(job._mapping, event.occurred_at).model_dump(mode="json")
        announced = notify_payload(row_id, event.job_id, event.event_type, payload)
        conn.execute(_RECORD_AND_NOTIFY, touch | {"shown": payload, "announced": announced})
        return row_id
    _apply(conn, event)
    announced = notify_payload(row_id, event.job_id, event.event_type, payload)
    conn.execute(_TOUCH_AND_NOTIFY, touch | {"announced": announced})
    return row_id


def progress_of(row: Mapping[Any, Any], now: datetime) -> JobProgress:
    """Progress from a job row's status, chunk count, frame count, acceptance time and stage clocks."""
    accepted = row["accepted_at"]
    elapsed = (now - accepted).total_seconds() if accepted is not None else None
    status = row["status"]
    progress = job_progress(
        stage_clocks(row["stages"], accepted),
        row["chunk_count"],
        row["frame_count"],
        elapsed,
        status == "completed",
    )
    if status in TERMINAL_STATUSES and status != "completed":
        return progress.model_copy(update={"eta_s": None})  # it will not finish
    return progress


def stage_clocks(stages: Mapping[str, Mapping[str, Any]], accepted: datetime | None) -> dict[str, StageClock]:
    """``STAGE_CLOCKS``' figures as seconds since the job was accepted."""
    origin = accepted.timestamp() if accepted is not None else None

    def since(epoch: float | None) -> float | None:
        return None if epoch is None or origin is None else float(epoch) - origin

    return {
        name: StageClock(state["chunks_done"], since(state.get("first_done")), since(state.get("last_done")))
        for name, state in stages.items()
    }


def forget_job(conn: Connection, job_id: str, retention_days: int | None = None) -> None:
    """Every row of the job goes, and a tombstone stays; tombstones older than ``retention_days`` go."""
    conn.execute(insert(DeletedJob).values(job_id=job_id).on_conflict_do_nothing())
    for table in (JobEvent, WebhookDelivery):
        conn.execute(delete(table).where(table.job_id == job_id))
    conn.execute(delete(Job).where(Job.id == job_id))  # its stages and artifacts cascade
    if retention_days:
        conn.execute(
            delete(DeletedJob).where(DeletedJob.deleted_at < func.now() - timedelta(days=retention_days))
        )


def _apply(conn: Connection, event: LifecycleEvent) -> None:
    """Acceptance and the ends; progress is counted with its read-back in `project_event`."""
    job = Job.id == event.job_id
    live = Job.status.not_in(TERMINAL_STATUSES)
    if isinstance(event, JobAccepted):
        conn.execute(
            update(Job)
            .where(job)
            .values(
                status=case((live, "running"), else_=Job.status),
                accepted_at=func.coalesce(Job.accepted_at, event.occurred_at),
                # The admitted submit's source is whole; this one may have lost its URL's query string.
                source=func.coalesce(Job.source, literal(event.source.model_dump(mode="json"), JSONB)),
                options=event.options.model_dump(mode="json"),
                media=event.media.model_dump(mode="json"),
                chunk_count=event.chunk_count,
                # Owner and webhook come from the admitted submit only: this public topic proves nothing.
            )
        )
    elif isinstance(event, JobCompleted | JobFailed | JobCancelled):
        _finish(conn, event)


def _finish(conn: Connection, event: JobCompleted | JobFailed | JobCancelled) -> None:
    """The first terminal event decides the job's end; later ones are only logged."""
    values: dict[str, Any] = {
        "status": TERMINAL_EVENT_STATUS[event.event_type],
        "finished_at": event.occurred_at,
    }
    if isinstance(event, JobCompleted):
        values |= {"metrics": event.metrics.model_dump(mode="json"), "chunks_done": Job.chunk_count}
    elif isinstance(event, JobFailed):
        values |= {"error_code": event.code, "error_message": event.message, "error_stage": event.stage}
    else:
        values |= {"error_code": "cancelled", "error_message": event.reason}
    finished = conn.execute(
        update(Job)
        .where(Job.id == event.job_id, Job.status.not_in(TERMINAL_STATUSES))
        .values(**values)
        .returning(Job.webhook_url, Job.owner)
    ).one_or_none()
    if finished is None:
        return
    if isinstance(event, JobCompleted):
        _all_stages_done(conn, event)
        rows = [{"kind": "output", "position": 0, "key": event.output_key}]
        rows += [{"kind": "hero", "position": i, "key": key} for i, key in enumerate(event.hero_keys)]
        rows += [{"kind": "cutout", "position": i, "key": key} for i, key in enumerate(event.cutout_keys)]
        if event.poster_key:
            rows.append({"kind": "poster", "position": 0, "key": event.poster_key})
        if event.mask_key:
            rows.append({"kind": "mask", "position": 0, "key": event.mask_key})
        # A job's artifacts lie under its own prefix; a key elsewhere (a forged event) is not recorded.
        rows = [row for row in rows if in_job(str(row["key"]), event.job_id)]
        if rows:
            conn.execute(
                insert(Artifact)
                .values([{"job_id": event.job_id, **row} for row in rows])
                .on_conflict_do_nothing()
            )
    webhook_url, owner = finished
    if webhook_url:
        _enqueue_webhook(
            conn, event.job_id, event.event_id, webhook_url, owner, event.model_dump(mode="json")
        )


def _all_stages_done(conn: Connection, event: JobCompleted) -> None:
    """A completed job went through every stage: assemble, which reports no last chunk, included."""
    job = select(Job.id, literal("assemble"), Job.chunk_count, Job.chunk_count, literal(event.occurred_at))
    conn.execute(
        insert(JobStage)
        .from_select(
            ["job_id", "stage", "chunks_done", "chunks_total", "updated_at"],
            job.where(Job.id == event.job_id, Job.chunk_count.is_not(None)),
        )
        .on_conflict_do_nothing(index_elements=[JobStage.job_id, JobStage.stage])
    )
    conn.execute(
        update(JobStage).where(JobStage.job_id == event.job_id).values(chunks_done=JobStage.chunks_total)
    )


def _enqueue_webhook(
    conn: Connection, job_id: str, event_id: Any, url: str, owner: str | None, payload: dict[str, Any]
) -> None:
    conn.execute(
        insert(WebhookDelivery)
        .values(job_id=job_id, event_id=event_id, url=url, owner=owner, payload=payload)
        .on_conflict_do_nothing(index_elements=[WebhookDelivery.job_id])
    )


def _enqueue_webhook_for_finished(conn: Connection, job_id: str) -> None:
    found = conn.execute(
        select(Job.webhook_url, Job.owner, JobEvent.event_id, JobEvent.payload)
        .join(JobEvent, JobEvent.job_id == Job.id)
        .where(
            Job.id == job_id,
            Job.status.in_(TERMINAL_STATUSES),
            Job.webhook_url.is_not(None),
            JobEvent.event_type.in_(TERMINAL_STATUSES),
        )
        .order_by(JobEvent.id)
        .limit(1)
    ).one_or_none()
    if found is not None:
        url, owner, event_id, payload = found
        _enqueue_webhook(conn, job_id, event_id, url, owner, payload)
