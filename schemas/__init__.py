"""Versioned event models of the Kafka pipeline; imports only pydantic and the standard library.

Public: ``SubmitJob`` on ``backdrop.uploads`` and the ``LifecycleEvent`` family on ``backdrop.jobs``.
The job's background is one typed value (``Background``, read from its SPEC by ``parse_background``).
Internal: ``ChunkTask`` and ``AssembleTask`` on ``backdrop.stage.<stage>``, along the stage graph
(``PIPELINE``, ``next_stage``). JSON Schema in ``schemas/json/`` (``python -m schemas export``).
Unknown fields are ignored, so a newer producer may add fields.
"""

from schemas.background import BACKGROUND_HELP, Background, parse_background
from schemas.common import JOB_ID_PATTERN, SCHEMA_VERSION, Envelope, JobId, new_job_id, utc_now
from schemas.graph import (
    CHUNK_STAGES,
    PIPELINE,
    ChunkStage,
    PipelineStage,
    is_chunk_stage,
    next_chunk_stage,
    next_stage,
    stage_named,
)
from schemas.lifecycle import (
    LIFECYCLE_ADAPTER,
    TERMINAL_TYPES,
    ChunkDone,
    JobAccepted,
    JobCancelled,
    JobCompleted,
    JobDeleted,
    JobFailed,
    JobMetrics,
    LifecycleEvent,
    StageProgress,
    parse_lifecycle,
)
from schemas.media import ChunkRef, MediaFacts
from schemas.options import JobOptions
from schemas.stage import STAGE_ADAPTER, AssembleTask, ChunkEvent, ChunkTask, StageEvent, parse_stage
from schemas.submit import (
    SUBMIT_ADAPTER,
    ObjectRef,
    ObjectSource,
    Source,
    SubmitJob,
    UrlSource,
    parse_submit,
    public_source,
)

__all__ = [
    "BACKGROUND_HELP",
    "CHUNK_STAGES",
    "JOB_ID_PATTERN",
    "LIFECYCLE_ADAPTER",
    "PIPELINE",
    "SCHEMA_VERSION",
    "STAGE_ADAPTER",
    "SUBMIT_ADAPTER",
    "TERMINAL_TYPES",
    "AssembleTask",
    "Background",
    "ChunkDone",
    "ChunkEvent",
    "ChunkRef",
    "ChunkStage",
    "ChunkTask",
    "Envelope",
    "JobAccepted",
    "JobCancelled",
    "JobCompleted",
    "JobDeleted",
    "JobFailed",
    "JobId",
    "JobMetrics",
    "JobOptions",
    "LifecycleEvent",
    "MediaFacts",
    "ObjectRef",
    "ObjectSource",
    "PipelineStage",
    "Source",
    "StageEvent",
    "StageProgress",
    "SubmitJob",
    "UrlSource",
    "is_chunk_stage",
    "new_job_id",
    "next_chunk_stage",
    "next_stage",
    "parse_background",
    "parse_lifecycle",
    "parse_stage",
    "parse_submit",
    "public_source",
    "stage_named",
    "utc_now",
]
