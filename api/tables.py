"""The read model in PostgreSQL: keys, jobs, per-stage progress, artifacts, the event log, webhooks.

Written by the projector (from ``backdrop.jobs``) and, for the command side, by the API (keys, a job's
row the moment it is submitted). The event log's bigint id is the SSE ``id:`` and ``Last-Event-ID``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names fixed by convention, so Alembic migrations name them the same on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, datetime: DateTime(timezone=True)}


class ApiKey(Base):
    """An API key; only its SHA-256 is kept (keys are 256-bit random, so a slow hash buys nothing)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # Signs this key's webhooks (Standard Webhooks ``whsec_…``); shown once, with the key.
    webhook_secret: Mapped[str] = mapped_column(String(128))
    # Requests per minute; null takes Settings.rate_limit_per_minute.
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]


class Job(Base):
    """One job as the read model knows it; ``seq`` orders the list and is its pagination cursor."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("owner", "idempotency_key", name="uq_jobs_owner_idempotency_key"),
        Index("ix_jobs_owner_seq", "owner", "seq"),
        Index("ix_jobs_owner_status_seq", "owner", "status", "seq"),
        Index("ix_jobs_owner_batch_id", "owner", "batch_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    owner: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    source: Mapped[dict[str, Any] | None]
    options: Mapped[dict[str, Any] | None]
    webhook_url: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # Jobs started together (several files in one upload, several sources in one request) share one.
    batch_id: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of the canonical request, so a reused Idempotency-Key with another body is refused.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    media: Mapped[dict[str, Any] | None]
    chunk_count: Mapped[int | None] = mapped_column(Integer)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_stage: Mapped[str | None] = mapped_column(String(16))
    metrics: Mapped[dict[str, Any] | None]
    submitted_at: Mapped[datetime] = mapped_column(server_default=func.now())
    accepted_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_event_id: Mapped[int | None] = mapped_column(BigInteger)


class JobStage(Base):
    """How many of a job's chunks one stage has finished, and when."""

    __tablename__ = "job_stages"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    chunks_done: Mapped[int] = mapped_column(Integer)
    chunks_total: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]  # of its latest count
    first_done_at: Mapped[datetime | None]  # its first chunk: the pace is measured from there


class Artifact(Base):
    """An object a finished job produced: the output, its hero stills, its poster."""

    __tablename__ = "artifacts"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text)


class JobEvent(Base):
    """Append-only log of lifecycle events; ``id`` is the SSE cursor, ``event_id`` deduplicates."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    job_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
    payload: Mapped[dict[str, Any]]


class DeletedJob(Base):
    """A job its owner deleted: events of it that come late (or a replay of the topics) bring nothing
    back. Kept as long as the job's outputs would have been, then purged."""

    __tablename__ = "deleted_jobs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class WebhookDelivery(Base):
    """Outbox of webhook calls: one per job end, retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    url: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)
