"""The API's queries: one round trip per answer, owner in every WHERE (another key's job is not there)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping, bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.models import ArtifactOut, JobError, JobLinks, JobOut, Progress, StageState, Timings
from api.projection import STAGE_CLOCKS, progress_of
from api.tables import TERMINAL_STATUSES, Artifact, Job, JobEvent
from schemas import JOB_ID_PATTERN, PIPELINE
from streams.store import in_job, job_prefix

# Ids, sequence numbers and cursors are PostgreSQL bigints; a bigger number is refused before the query.
MAX_BIGINT = 2**63 - 1

_ARTIFACTS = (
    select(
        func.coalesce(
            func.jsonb_agg(
                func.jsonb_build_object(
                    "kind", Artifact.kind, "key", Artifact.key, "position", Artifact.position
                )
            ),
            literal_column("'[]'::jsonb"),
        )
    )
    .where(Artifact.job_id == Job.id)
    .scalar_subquery()
    .label("artifacts")
)
_JOB = select(Job, STAGE_CLOCKS, _ARTIFACTS)
# Stages are shown in the order the pipeline runs them (jsonb keeps its keys in its own order).
_STAGE_ORDER = {stage: position for position, stage in enumerate(PIPELINE)}


@dataclass(frozen=True)
class StoredEvent:
    id: int
    job_id: str
    event_type: str
    payload: dict[str, Any]


# Built once: SQLAlchemy then reuses its cache key instead of walking both subqueries per call.
_JOB_BY_ID = _JOB.where(Job.id == bindparam("job_id"), Job.owner == bindparam("owner"))


async def get_job(conn: AsyncConnection, job_id: str, owner: str) -> RowMapping | None:
    # No job has an id outside the pattern, and some (a NUL byte) PostgreSQL would refuse with an error.
    if re.fullmatch(JOB_ID_PATTERN, job_id) is None:
        return None
    found = await conn.execute(_JOB_BY_ID, {"job_id": job_id, "owner": owner})
    return found.mappings().one_or_none()


async def list_jobs(
    conn: AsyncConnection, owner: str, status: str | None, limit: int, before_seq: int | None
) -> list[RowMapping]:
    query = _JOB.where(Job.owner == owner)
    if status is not None:
        query = query.where(Job.status == status)
    if before_seq is not None:
        query = query.where(Job.seq < before_seq)
    return list((await conn.execute(query.order_by(Job.seq.desc()).limit(limit))).mappings())


async def events_after(
    conn: AsyncConnection, job_ids: tuple[str, ...], after_id: int, limit: int = 500
) -> list[StoredEvent]:
    """The jobs' logged events after ``after_id``, in log order."""
    rows = await conn.execute(
        select(JobEvent.id, JobEvent.job_id, JobEvent.event_type, JobEvent.payload)
        .where(JobEvent.job_id.in_(job_ids), JobEvent.id > after_id)
        .order_by(JobEvent.id)
        .limit(limit)
    )
    return [StoredEvent(row.id, row.job_id, row.event_type, row.payload) for row in rows]


async def batch_jobs(conn: AsyncConnection, owner: str, batch_id: str) -> list[RowMapping]:
    """The key's jobs of one batch, in the order they were started."""
    if re.fullmatch(JOB_ID_PATTERN, batch_id) is None:
        return []
    query = _JOB.where(Job.owner == owner, Job.batch_id == batch_id).order_by(Job.seq)
    return list((await conn.execute(query)).mappings())


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The seq a cursor stands for; ValueError for anything we did not hand out."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        text = ""
    digits = text[1:]
    # isdigit alone would pass digits int() refuses ('²'); seq is a PostgreSQL bigint.
    if not text.startswith("s") or not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_BIGINT:
        raise ValueError(f"not a cursor: {cursor!r}")
    return int(digits)


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


_ARTIFACT_ORDER = {"output": 0, "mask": 1, "hero": 2, "cutout": 3, "poster": 4}


def job_out(row: RowMapping, presign: Callable[[str], str]) -> JobOut:
    """The public shape of a job row; ``presign`` turns an artifact key into a download URL."""
    error = (
        JobError(code=row["error_code"], message=row["error_message"] or "", stage=row["error_stage"])
        if row["error_code"]
        else None
    )
    # Output and matte first, then heroes and cut-outs best first, then the poster; only the job's own
    # objects are presigned.
    artifacts = sorted(
        (a for a in row["artifacts"] if in_job(a["key"], row["id"])),
        key=lambda a: (_ARTIFACT_ORDER.get(a["kind"], 9), a["position"]),
    )
    base = f"/v1/jobs/{row['id']}"
    overall = progress_of(
        {
            "status": row["status"],
            "chunk_count": row["chunk_count"],
            "frame_count": (row["media"] or {}).get("frame_count"),
            "accepted_at": row["accepted_at"],
            "stages": row["stages"],
        },
        datetime.now(UTC),
    )
    return JobOut(
        id=row["id"],
        status=row["status"],
        source=row["source"],
        options=row["options"],
        progress=Progress(
            **overall.model_dump(),
            chunks_done=row["chunks_done"],
            chunks_total=row["chunk_count"],
            stages={
                name: StageState(chunks_done=state["chunks_done"], chunks_total=state["chunks_total"])
                for name, state in sorted(
                    row["stages"].items(), key=lambda item: _STAGE_ORDER.get(item[0], 99)
                )
            },
        ),
        timings=Timings(
            submitted_at=row["submitted_at"], accepted_at=row["accepted_at"], finished_at=row["finished_at"]
        ),
        metrics=row["metrics"],
        error=error,
        artifacts=[
            ArtifactOut(
                kind=a["kind"],
                key=a["key"],
                url=presign(a["key"]),
                href=f"{base}/files/{a['key'].removeprefix(job_prefix(row['id']))}",
            )
            for a in artifacts
        ],
        links=JobLinks(self=base, events=f"{base}/events", cancel=f"{base}/cancel"),
        batch_id=row["batch_id"],
    )
