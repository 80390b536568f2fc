"""Every topic Backdrop uses, declared once with its partitions and retention."""

from __future__ import annotations

from dataclasses import dataclass

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


UPLOADS = TopicSpec("backdrop.uploads", 6, 7 * DAY_MS, "Public submit events: anyone may publish a job here.")
STORAGE_EVENTS = TopicSpec(
    "backdrop.storage.events",
    3,
    7 * DAY_MS,
    "Object-store bucket notifications (an object created in the uploads bucket).",
)
JOBS = TopicSpec(
    "backdrop.jobs", 6, 30 * DAY_MS, "Public lifecycle events, keyed by job id so they stay ordered per job."
)

# One input topic per stage. Chunk stages get more partitions: a partition is the ceiling on
# how many workers of that stage can share one job's chunks.
STAGES: tuple[TopicSpec, ...] = tuple(
    TopicSpec(f"backdrop.stage.{stage}", partitions, 3 * DAY_MS, f"Input of the {stage} stage.")
    for stage, partitions in (
        ("extract", 6),
        ("score", 12),
        ("segment", 12),
        ("matte", 12),
        ("composite", 12),
        ("encode", 12),
        ("assemble", 6),
    )
)

ALL_TOPICS: tuple[TopicSpec, ...] = (UPLOADS, STORAGE_EVENTS, JOBS, *STAGES)
