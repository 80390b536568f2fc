from __future__ import annotations

from schemas import PIPELINE
from streams.topics import (
    ALL_TOPICS,
    INGEST,
    JOBS,
    STAGE_PARTITIONS,
    STAGES,
    STORAGE_EVENTS,
    UPLOADS,
    stage_inputs,
    stage_topic,
)


def test_topic_names_are_unique_and_namespaced() -> None:
    names = [spec.name for spec in ALL_TOPICS]
    assert len(names) == len(set(names))
    assert all(name.startswith("backdrop.") for name in names)


def test_every_stage_has_an_input_topic_and_a_partition_count() -> None:
    assert sorted(STAGE_PARTITIONS) == sorted(PIPELINE)
    assert [spec.name.removeprefix("backdrop.stage.") for spec in STAGES] == list(PIPELINE)


def test_the_first_stage_reads_the_ingest_topics_and_the_others_their_own() -> None:
    first, *rest = PIPELINE
    assert stage_inputs(first) == (*INGEST, stage_topic(first))
    assert all(stage_inputs(stage) == (stage_topic(stage),) for stage in rest)


def test_public_topics_are_declared() -> None:
    assert {UPLOADS.name, JOBS.name, STORAGE_EVENTS.name} <= {spec.name for spec in ALL_TOPICS}


def test_config_carries_retention() -> None:
    assert JOBS.config["retention.ms"] == str(JOBS.retention_ms)
    assert all(spec.partitions >= 1 and spec.retention_ms > 0 for spec in ALL_TOPICS)
