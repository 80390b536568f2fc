"""``model_dump(mode="json")`` parses back into an equal event."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from pydantic import BaseModel

from schemas import (
    ChunkRef,
    ChunkTask,
    JobOptions,
    MediaFacts,
    parse_lifecycle,
    parse_stage,
    parse_submit,
)
from tests.unit.schemas.conftest import EVENTS_V1
from tests.unit.schemas.test_versions import EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dump_then_parse_gives_an_equal_event(name: str) -> None:
    parse: Callable[[str], BaseModel] = EXPECTED[name][0]
    event = parse((EVENTS_V1 / name).read_text())
    again = parse(json.dumps(event.model_dump(mode="json")))
    assert again == event
    assert again.model_dump(mode="json") == event.model_dump(mode="json")


def test_built_event_gets_an_id_and_a_time_and_round_trips() -> None:
    task = ChunkTask(
        event_type="chunk_task",
        job_id="job_4vJ9kQ2mXcR7tP1sLwE8aZ",
        stage="segment",
        chunk=ChunkRef(index=0, start=0, stop=48, warmup_start=0, count=1),
        media=MediaFacts(
            width=64,
            height=48,
            fps="24000/1001",
            time_base="1/24000",
            frame_count=48,
            duration_s=2.0,
            has_audio=False,
        ),
        options=JobOptions(),
        source_key="jobs/job_4vJ9kQ2mXcR7tP1sLwE8aZ/extract/00000.mp4",
    )
    dumped = task.model_dump(mode="json")
    assert dumped["occurred_at"].endswith("Z")
    assert parse_stage(json.dumps(dumped)) == task


def test_parsers_take_bytes_and_text_alike() -> None:
    for name, (parse, _) in EXPECTED.items():
        raw = (EVENTS_V1 / name).read_bytes()
        # Events without an id or time get fresh ones on each parse, so compare the rest.
        generated = {"event_id", "occurred_at"}
        assert parse(raw).model_dump(exclude=generated) == parse(raw.decode()).model_dump(exclude=generated)
    assert {parse_submit, parse_lifecycle, parse_stage} == {parse for parse, _ in EXPECTED.values()}
