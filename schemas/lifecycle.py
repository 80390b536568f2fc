"""Public lifecycle events on ``backdrop.jobs``, keyed by job id so each job's events stay in order."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, model_validator

from schemas.common import Envelope, Model
from schemas.graph import PipelineStage
from schemas.media import MEDIA_EXAMPLE, MediaFacts
from schemas.options import OPTIONS_EXAMPLE, JobOptions
from schemas.progress import JobProgress
from schemas.submit import Source

TERMINAL_TYPES = frozenset({"completed", "failed", "cancelled"})


class JobAccepted(Envelope):
    """The input passed its checks and was cut into chunks; work has started."""

    event_type: Literal["accepted"] = Field(
        description="Event discriminator; always 'accepted'.", examples=["accepted"]
    )
    source: Source = Field(
        description="The input as submitted; a URL without its credentials, query string or fragment "
        "(they may be secrets: this topic is public).",
        examples=[{"object": {"bucket": "backdrop-uploads", "key": "incoming/interview.mp4"}}],
    )
    options: JobOptions = Field(
        description="The options the job runs with, defaults filled in.",
        examples=[OPTIONS_EXAMPLE],
    )
    media: MediaFacts = Field(
        description="What the input holds.",
        examples=[MEDIA_EXAMPLE],
    )
    chunk_count: int = Field(gt=0, description="Number of chunks the job was cut into.", examples=[30])
    owner: str | None = Field(
        default=None,
        description="Id of the API key that owns the job; null for direct Kafka or bucket submissions.",
        examples=["key_7Qm2", None],
    )


class _Counts(Model):
    chunks_done: int = Field(ge=0, description="Chunks finished so far.", examples=[12])
    chunks_total: int = Field(gt=0, description="Chunks in the job.", examples=[30])

    @model_validator(mode="after")
    def _done_within_total(self) -> _Counts:
        if self.chunks_done > self.chunks_total:
            raise ValueError(f"chunks_done {self.chunks_done} exceeds chunks_total {self.chunks_total}")
        return self


class _JobProgress(Model):
    progress: JobProgress | None = Field(
        default=None,
        description="The whole job's progress at this event, added by the read model: on the SSE stream, "
        "never on Kafka, where each stage reports only its own count.",
        examples=[{"percent": 42, "frames_done": 600, "frames_total": 1440, "fps": 24.5, "eta_s": 35.2}],
    )


class StageProgress(Envelope, _Counts, _JobProgress):
    """A stage finished another chunk of the job."""

    event_type: Literal["stage_progress"] = Field(
        description="Event discriminator; always 'stage_progress'.", examples=["stage_progress"]
    )
    stage: PipelineStage = Field(description="The stage that made progress.", examples=["segment"])


class ChunkDone(Envelope, _Counts, _JobProgress):
    """A chunk passed every stage: its encoded segment is stored."""

    event_type: Literal["chunk_done"] = Field(
        description="Event discriminator; always 'chunk_done'.", examples=["chunk_done"]
    )
    chunk: int = Field(ge=0, description="Index of the finished chunk.", examples=[3])


class JobMetrics(Model):
    """How big the job was and how fast it ran."""

    frames: int = Field(gt=0, description="Frames in the output.", examples=[1440])
    duration_s: float = Field(ge=0, description="Duration of the output in seconds.", examples=[60.06])
    processing_s: float = Field(
        ge=0, description="Seconds from acceptance to completion, wall clock.", examples=[41.3]
    )
    fps: float = Field(ge=0, description="Frames processed per second of processing_s.", examples=[34.9])


class JobCompleted(Envelope):
    """The output is written; the job is over."""

    event_type: Literal["completed"] = Field(
        description="Event discriminator; always 'completed'.", examples=["completed"]
    )
    output_key: str = Field(
        min_length=1,
        description="Object key of the result.",
        examples=["jobs/job_4vJ9kQ2mXcR7tP1sLwE8aZ/output.mp4"],
    )
    hero_keys: list[str] = Field(
        default_factory=list,
        description="Object keys of the hero stills, best first.",
        examples=[["jobs/job_4vJ9kQ2mXcR7tP1sLwE8aZ/heroes/00.jpg"]],
    )
    poster_key: str | None = Field(
        default=None,
        description="Object key of the poster JPEG; null when no poster was made.",
        examples=["jobs/job_4vJ9kQ2mXcR7tP1sLwE8aZ/poster.jpg"],
    )
    cutout_keys: list[str] = Field(
        default_factory=list,
        description="The hero stills as transparent cut-outs (PNG), in hero_keys' order; empty when the "
        "job's background is transparent (the heroes are cut-outs already).",
        examples=[["jobs/job_4vJ9kQ2mXcR7tP1sLwE8aZ/composite/3/cutout.png"]],
    )
    mask_key: str | None = Field(
        default=None,
        description="Object key of the matte (options.mask): a greyscale MP4, or PNG for a still.",
        examples=["jobs/job_4vJ9kQ2mXcR7tP1sLwE8aZ/assemble/mask.mp4"],
    )
    metrics: JobMetrics = Field(
        description="Size and speed of the job.",
        examples=[{"frames": 1440, "duration_s": 60.06, "processing_s": 41.3, "fps": 34.9}],
    )


class JobFailed(Envelope):
    """The job cannot finish; ``message`` tells the user what to do."""

    event_type: Literal["failed"] = Field(
        description="Event discriminator; always 'failed'.", examples=["failed"]
    )
    code: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        max_length=64,
        description="Stable machine-readable reason, as Backdrop's error codes.",
        examples=["input_corrupt", "input_limit_exceeded"],
    )
    message: str = Field(
        min_length=1,
        description="What went wrong and what to do about it, for a person.",
        examples=["interview.mp4 is truncated or not a video: upload the complete file again"],
    )
    stage: PipelineStage | None = Field(
        default=None,
        description="The stage that failed; null when the failure belongs to no stage.",
        examples=["extract", None],
    )


class JobCancelled(Envelope):
    """The job was stopped before it finished."""

    event_type: Literal["cancelled"] = Field(
        description="Event discriminator; always 'cancelled'.", examples=["cancelled"]
    )
    reason: str = Field(
        min_length=1,
        description="Why the job was stopped.",
        examples=["cancelled by the owner"],
    )


class JobDeleted(Envelope):
    """The job's owner deleted it, after it ended: its objects and its records are gone."""

    event_type: Literal["deleted"] = Field(
        description="Event discriminator; always 'deleted'.", examples=["deleted"]
    )
    objects_deleted: int = Field(
        ge=0, description="Objects deleted from the stores, outputs and upload included.", examples=[5]
    )
    bytes_deleted: int = Field(ge=0, description="Their size in bytes.", examples=[48_211_377])


LifecycleEvent = Annotated[
    JobAccepted | StageProgress | ChunkDone | JobCompleted | JobFailed | JobCancelled | JobDeleted,
    Field(discriminator="event_type"),
]
LIFECYCLE_ADAPTER: TypeAdapter[LifecycleEvent] = TypeAdapter(LifecycleEvent)


def parse_lifecycle(data: bytes | str) -> LifecycleEvent:
    """Parse a lifecycle event from JSON; an unknown ``event_type`` raises pydantic's ValidationError."""
    return LIFECYCLE_ADAPTER.validate_json(data)
