"""The stage graph: one order, chunk stages in between, each stage followed by the next."""

from __future__ import annotations

import pytest

from schemas import (
    CHUNK_STAGES,
    PIPELINE,
    ChunkTask,
    is_chunk_stage,
    next_chunk_stage,
    next_stage,
    stage_named,
)


def test_chunk_stages_are_those_between_the_first_and_the_last() -> None:
    assert PIPELINE[1:-1] == CHUNK_STAGES


def test_chunk_task_is_addressed_to_chunk_stages_only() -> None:
    assert ChunkTask.model_json_schema()["properties"]["stage"]["enum"] == list(CHUNK_STAGES)


def test_each_stage_is_followed_by_the_next_in_order() -> None:
    assert [next_stage(stage) for stage in PIPELINE[:-1]] == list(PIPELINE[1:])
    with pytest.raises(ValueError, match="last stage"):
        next_stage(PIPELINE[-1])


def test_next_chunk_stage_stops_where_chunks_are_gathered() -> None:
    assert next_chunk_stage(PIPELINE[0]) == CHUNK_STAGES[0]
    assert [next_chunk_stage(stage) for stage in CHUNK_STAGES[:-1]] == list(CHUNK_STAGES[1:])
    with pytest.raises(ValueError, match="takes no chunk task"):
        next_chunk_stage(CHUNK_STAGES[-1])


def test_stage_names_are_checked() -> None:
    assert [stage_named(stage) for stage in PIPELINE] == list(PIPELINE)
    assert not is_chunk_stage(PIPELINE[0])
    with pytest.raises(ValueError, match="no stage named 'paint'"):
        stage_named("paint")
