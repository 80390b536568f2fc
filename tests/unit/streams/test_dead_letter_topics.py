from __future__ import annotations

import pytest

from streams.topics import (
    ALL_TOPICS,
    DAY_MS,
    DEAD_LETTERS,
    JOBS,
    STAGES,
    STORAGE_EVENTS,
    UPLOADS,
    dead_letter_topic,
    stage_topic,
)


def test_every_consumed_topic_has_a_declared_dead_letter_topic() -> None:
    declared = {spec.name for spec in ALL_TOPICS}
    for source in (UPLOADS, STORAGE_EVENTS, JOBS, *STAGES):
        assert dead_letter_topic(source.name).name in declared


def test_dead_letter_names_partitions_and_retention() -> None:
    assert dead_letter_topic("backdrop.stage.segment").name == "backdrop.dlq.segment"
    assert dead_letter_topic(STORAGE_EVENTS.name).name == "backdrop.dlq.uploads"
    assert dead_letter_topic(JOBS.name).name == "backdrop.dlq.jobs"
    assert len(DEAD_LETTERS) == len(STAGES) + 2
    assert all(spec.partitions == 3 and spec.retention_ms == 30 * DAY_MS for spec in DEAD_LETTERS)


def test_stage_topic_lookup() -> None:
    assert stage_topic("matte").name == "backdrop.stage.matte"
    with pytest.raises(KeyError, match="no stage named"):
        stage_topic("paint")


def test_unknown_source_has_no_dead_letter_topic() -> None:
    with pytest.raises(KeyError, match="no dead-letter topic"):
        dead_letter_topic("backdrop.dlq.jobs")
