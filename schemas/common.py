"""The envelope every event carries: id, type, schema version, job id and time."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

# Base58 (no 0, O, I, l): ids stay URL-safe, unambiguous when read aloud, and free of '/' and '.',
# because they become object-key prefixes (jobs/{job_id}/...).
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


def new_id(kind: str) -> str:
    """A fresh id: ``kind``, ``_`` and 22 random base58 characters (about 129 bits)."""
    return f"{kind}_" + "".join(secrets.choice(_BASE58) for _ in range(22))


def new_job_id() -> str:
    """A fresh job id: ``job_`` and 22 random base58 characters."""
    return new_id("job")


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


JobId = Annotated[
    str,
    Field(
        pattern=JOB_ID_PATTERN,
        description="The job this event belongs to: 8–64 URL-safe characters (letters, digits, '_', '-'); "
        "Backdrop makes them as 'job_' plus 22 base58 characters.",
        examples=["job_4vJ9kQ2mXcR7tP1sLwE8aZ"],
    ),
]

UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class Model(BaseModel):
    """Frozen value; unknown fields are ignored so a newer producer may add some."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Envelope(Model):
    """Fields every event carries; ``event_type`` is the discriminator."""

    # Declared here so it comes first in every event; each event narrows it to its own Literal.
    event_type: str = Field(description="Which event this is.", examples=["submit"])
    event_id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        description="Unique id of this event; consumers drop a second delivery with the same id.",
        examples=["0b6f1c1e-8a47-4f5e-9d0c-3c2f5e7a9b10"],
    )
    schema_version: int = Field(
        default=SCHEMA_VERSION,
        ge=1,
        description="Version of this event's schema; a breaking change increments it.",
        examples=[SCHEMA_VERSION],
    )
    job_id: JobId
    occurred_at: UtcDatetime = Field(
        default_factory=utc_now,
        description="When the event happened: ISO 8601 with a timezone (naive times are rejected), "
        "stored in UTC.",
        examples=["2025-01-31T12:00:00Z"],
    )
