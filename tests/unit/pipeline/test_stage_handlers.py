"""Every stage of the graph has a handler in ``agents/workers/<stage>.py``, named and typed after it."""

from __future__ import annotations

import importlib

import pytest

from agents.workers import stage_topics
from agents.workers.context import StageTaskHandler
from agents.workers.extract import ExtractHandler
from schemas import CHUNK_STAGES, PIPELINE, AssembleTask, ChunkTask


@pytest.mark.parametrize("stage", PIPELINE)
def test_each_stage_has_a_handler_of_its_name(stage: str) -> None:
    handler = getattr(importlib.import_module(f"agents.workers.{stage}"), f"{stage.title()}Handler")
    assert handler.stage == stage


@pytest.mark.parametrize("stage", PIPELINE[1:])
def test_stage_task_handlers_expect_their_stage_event(stage: str) -> None:
    handler = getattr(importlib.import_module(f"agents.workers.{stage}"), f"{stage.title()}Handler")
    assert issubclass(handler, StageTaskHandler)
    assert handler.expects is (ChunkTask if stage in CHUNK_STAGES else AssembleTask)


def test_the_first_stage_reads_the_ingest_topics() -> None:
    assert ExtractHandler.topics == stage_topics()[PIPELINE[0]]
