"""Internal stage events on ``backdrop.stage.<stage>``: ids, object keys, shapes and metrics, never pixels."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from schemas.common import Envelope
from schemas.graph import ChunkStage
from schemas.media import CHUNK_EXAMPLE, MEDIA_EXAMPLE, ChunkRef, MediaFacts
from schemas.options import OPTIONS_EXAMPLE, JobOptions


class ChunkEvent(Envelope):
    """What both stage events carry: the chunk, the job's media and options, what earlier stages made."""

    chunk: ChunkRef = Field(
        description="Which frames of the job this chunk covers.", examples=[CHUNK_EXAMPLE]
    )
    media: MediaFacts = Field(description="Facts about the whole source video.", examples=[MEDIA_EXAMPLE])
    options: JobOptions = Field(description="The job's rendering options.", examples=[OPTIONS_EXAMPLE])
    artifacts: dict[str, str] = Field(
        default_factory=dict,
        description="Object keys the earlier stages produced for this chunk, by name.",
        examples=[{"scores": "jobs/job_4vJ9kQ2mXcR7tP1sLwE8aZ/score/00003.json"}],
    )
    metrics: dict[str, float] = Field(
        default_factory=dict,
        description="Measurements so far for this chunk, by name (e.g. seconds spent per stage).",
        examples=[{"score_s": 0.41, "segment_s": 1.87}],
    )


class ChunkTask(ChunkEvent):
    """Work on one chunk for one stage; each stage adds its outputs to ``artifacts`` and passes it on."""

    event_type: Literal["chunk_task"] = Field(
        description="Event discriminator; always 'chunk_task'.", examples=["chunk_task"]
    )
    stage: ChunkStage = Field(description="The stage this task is addressed to.", examples=["segment"])
    source_key: str = Field(
        min_length=1,
        description="Object key of this chunk's source segment (warm-up frames included).",
        examples=["jobs/job_4vJ9kQ2mXcR7tP1sLwE8aZ/extract/00003.mp4"],
    )
    attempt: int = Field(
        default=0,
        ge=0,
        description="How many times this task was retried before (0: first try).",
        examples=[0],
    )


class AssembleTask(ChunkEvent):
    """One chunk's encoded segment is stored; assemble gathers them until all ``chunk.count`` are there."""

    event_type: Literal["assemble_task"] = Field(
        description="Event discriminator; always 'assemble_task'.", examples=["assemble_task"]
    )
    segment_key: str = Field(
        min_length=1,
        description="Object key of the chunk's encoded segment (output frames only, no warm-up).",
        examples=["jobs/job_4vJ9kQ2mXcR7tP1sLwE8aZ/encode/00003.mp4"],
    )


StageEvent = Annotated[ChunkTask | AssembleTask, Field(discriminator="event_type")]
STAGE_ADAPTER: TypeAdapter[StageEvent] = TypeAdapter(StageEvent)


def parse_stage(data: bytes | str) -> StageEvent:
    """Parse a stage event from JSON; raises pydantic's ValidationError when it is not one."""
    return STAGE_ADAPTER.validate_json(data)
