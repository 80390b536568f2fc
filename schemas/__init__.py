"""Versioned event models of the Kafka pipeline; imports only pydantic and the standard library.

Public: ``SubmitJob`` on ``backdrop.uploads`` and the ``LifecycleEvent`` family on ``backdrop.jobs``.
Internal: ``ChunkTask`` and ``AssembleTask`` on ``backdrop.stage.<stage>``. JSON Schema in ``schemas/json/``
(``python -m schemas export``). Unknown fields are ignored, so a newer producer may add fields.
"""

from schemas.common import JOB_ID_PATTERN, SCHEMA_VERSION, Envelope, JobId, new_job_id, utc_now
from schemas.lifecycle import (
    LIFECYCLE_ADAPTER,
    TERMINAL_TYPES,
    ChunkDone,
    JobAccepted,
    JobCancelled,
    JobCompleted,
    JobFailed,
    JobMetrics,
    LifecycleEvent,
    StageProgress,
    parse_lifecycle,
)
from schemas.media import ChunkRef, MediaFacts
from schemas.options import JobOptions, OutputFormat
from schemas.stage import (
    STAGE_ADAPTER,
    AssembleTask,
    ChunkStage,
    ChunkTask,
    PipelineStage,
    StageEvent,
    parse_stage,
)
from schemas.submit import SUBMIT_ADAPTER, ObjectRef, ObjectSource, Source, SubmitJob, UrlSource, parse_submit

__all__ = [
    "JOB_ID_PATTERN",
    "LIFECYCLE_ADAPTER",
    "SCHEMA_VERSION",
    "STAGE_ADAPTER",
    "SUBMIT_ADAPTER",
    "TERMINAL_TYPES",
    "AssembleTask",
    "ChunkDone",
    "ChunkRef",
    "ChunkStage",
    "ChunkTask",
    "Envelope",
    "JobAccepted",
    "JobCancelled",
    "JobCompleted",
    "JobFailed",
    "JobId",
    "JobMetrics",
    "JobOptions",
    "LifecycleEvent",
    "MediaFacts",
    "ObjectRef",
    "ObjectSource",
    "OutputFormat",
    "PipelineStage",
    "Source",
    "StageEvent",
    "StageProgress",
    "SubmitJob",
    "UrlSource",
    "new_job_id",
    "parse_lifecycle",
    "parse_stage",
    "parse_submit",
    "utc_now",
]
