"""Events written by hand at schema version 1 must keep parsing in every later version."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas import (
    AssembleTask,
    ChunkDone,
    ChunkTask,
    JobAccepted,
    JobCancelled,
    JobCompleted,
    JobFailed,
    ObjectSource,
    StageProgress,
    SubmitJob,
    UrlSource,
    parse_lifecycle,
    parse_stage,
    parse_submit,
)
from tests.unit.schemas.conftest import EVENTS_V1

EXPECTED = {
    "submit-object.json": (parse_submit, SubmitJob),
    "submit-url.json": (parse_submit, SubmitJob),
    "accepted.json": (parse_lifecycle, JobAccepted),
    "stage-progress.json": (parse_lifecycle, StageProgress),
    "chunk-done.json": (parse_lifecycle, ChunkDone),
    "completed.json": (parse_lifecycle, JobCompleted),
    "failed.json": (parse_lifecycle, JobFailed),
    "cancelled.json": (parse_lifecycle, JobCancelled),
    "chunk-task.json": (parse_stage, ChunkTask),
    "assemble-task.json": (parse_stage, AssembleTask),
}


def test_every_frozen_event_is_listed() -> None:
    assert sorted(path.name for path in EVENTS_V1.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_frozen_event_parses_into_its_type(name: str) -> None:
    parse, kind = EXPECTED[name]
    event = parse((EVENTS_V1 / name).read_bytes())
    assert type(event) is kind
    assert event.schema_version == 1


def test_submit_from_a_bucket_object_fills_defaults() -> None:
    event = parse_submit((EVENTS_V1 / "submit-object.json").read_text())
    assert isinstance(event.source, ObjectSource)
    assert (event.source.object.bucket, event.source.object.key) == (
        "backdrop-uploads",
        "incoming/interview.mp4",
    )
    assert (event.options.background.spec, event.options.model, event.options.heroes) == (
        "#00FF00",
        "selfie",
        3,
    )
    assert event.owner is None
    assert event.occurred_at.tzinfo is UTC


def test_submit_from_a_url_keeps_its_time_in_utc() -> None:
    event = parse_submit((EVENTS_V1 / "submit-url.json").read_bytes())
    assert isinstance(event.source, UrlSource)
    assert str(event.source.url) == "https://media.example.com/talk.mov"
    assert event.occurred_at == datetime(2025, 3, 14, 8, 26, 53, tzinfo=UTC)
    assert str(event.event_id) == "5d1e0a57-2f1b-4c8e-9a34-1b7e0c9d2f61"
    assert event.options.output_format == "webm"


def test_chunk_task_carries_its_artifacts_and_rotation() -> None:
    event = parse_stage((EVENTS_V1 / "chunk-task.json").read_bytes())
    assert isinstance(event, ChunkTask)
    assert event.stage == "matte"
    assert event.chunk.warmup_start == 136
    assert event.media.rotation == 90
    assert event.artifacts["probs"].endswith("segment/00003.npz")
    assert event.attempt == 1


def test_completed_carries_outputs_and_metrics() -> None:
    event = parse_lifecycle((EVENTS_V1 / "completed.json").read_bytes())
    assert isinstance(event, JobCompleted)
    assert len(event.hero_keys) == 2
    assert event.metrics.frames == 1440
