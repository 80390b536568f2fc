"""Every topic Backdrop uses, declared once with partitions and retention; stage topics follow the graph."""

from __future__ import annotations

from dataclasses import dataclass

from schemas import PIPELINE, PipelineStage

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    description: str

    @property
    def config(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


UPLOADS = TopicSpec(
    "backdrop.uploads", 6, 7 * DAY_MS, "Public submit events: anyone may publish a job here (untrusted)."
)
STORAGE_EVENTS = TopicSpec(
    "backdrop.storage.events",
    3,
    7 * DAY_MS,
    "Object-store bucket notifications (an object created in the uploads bucket).",
)
JOBS = TopicSpec(
    "backdrop.jobs", 6, 30 * DAY_MS, "Public lifecycle events, keyed by job id so they stay ordered per job."
)

# What the first stage reads: jobs submitted as events or as uploads to the bucket.
INGEST: tuple[TopicSpec, ...] = (UPLOADS, STORAGE_EVENTS)

# Partitions of each stage's input topic. Chunk stages get more: a partition is the ceiling on how many
# workers of that stage can share one job's chunks. tests/unit/test_topics.py checks every stage has one.
STAGE_PARTITIONS: dict[PipelineStage, int] = {
    "extract": 6,
    "score": 12,
    "segment": 12,
    "matte": 12,
    "composite": 12,
    "encode": 12,
    "assemble": 6,
}

# One input topic per stage, in pipeline order. The first stage's holds the submits that passed its gate
# (job id claimed), so it is also where the read model learns of new jobs.
STAGES: tuple[TopicSpec, ...] = tuple(
    TopicSpec(
        f"backdrop.stage.{stage}",
        STAGE_PARTITIONS[stage],
        3 * DAY_MS,
        "Admitted submits: job id claimed, ready to extract."
        if stage == PIPELINE[0]
        else f"Input of the {stage} stage.",
    )
    for stage in PIPELINE
)

# A dead-letter topic per consumed input: the original event bytes as the value, the error in headers.
# Retention is long so an operator has time to read, fix and replay them.
DEAD_LETTER_UPLOADS = TopicSpec(
    "backdrop.dlq.uploads", 3, 30 * DAY_MS, "Submit events and bucket notifications that failed."
)
DEAD_LETTER_JOBS = TopicSpec(
    "backdrop.dlq.jobs", 3, 30 * DAY_MS, "Lifecycle events the read-model projector could not apply."
)
DEAD_LETTERS: tuple[TopicSpec, ...] = (
    DEAD_LETTER_UPLOADS,
    DEAD_LETTER_JOBS,
    *(
        TopicSpec(
            spec.name.replace("backdrop.stage.", "backdrop.dlq."),
            3,
            30 * DAY_MS,
            f"Events the {spec.name.removeprefix('backdrop.stage.')} stage gave up on.",
        )
        for spec in STAGES
    ),
)

ALL_TOPICS: tuple[TopicSpec, ...] = (UPLOADS, STORAGE_EVENTS, JOBS, *STAGES, *DEAD_LETTERS)


def stage_topic(stage: str) -> TopicSpec:
    """The input topic of a stage, e.g. ``segment`` → ``backdrop.stage.segment``."""
    for spec in STAGES:
        if spec.name == f"backdrop.stage.{stage}":
            return spec
    names = ", ".join(spec.name.removeprefix("backdrop.stage.") for spec in STAGES)
    raise KeyError(f"no stage named {stage!r}; stages are {names}")


def stage_inputs(stage: PipelineStage) -> tuple[TopicSpec, ...]:
    """The topics a stage's consumer group reads: its own, and the ingest topics for the first."""
    return (*INGEST, stage_topic(stage)) if stage == PIPELINE[0] else (stage_topic(stage),)


def dead_letter_topic(source_topic: str) -> TopicSpec:
    """Where events that failed on ``source_topic`` go; both ingest topics share ``backdrop.dlq.uploads``."""
    if source_topic in {spec.name for spec in INGEST}:
        return DEAD_LETTER_UPLOADS
    if source_topic == JOBS.name:
        return DEAD_LETTER_JOBS
    if source_topic.startswith("backdrop.stage."):
        name = source_topic.replace("backdrop.stage.", "backdrop.dlq.")
        for spec in DEAD_LETTERS:
            if spec.name == name:
                return spec
    raise KeyError(
        f"no dead-letter topic for {source_topic!r}: only uploads, jobs and stage inputs are consumed"
    )
