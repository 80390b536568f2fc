from __future__ import annotations

from streams.topics import ALL_TOPICS, JOBS, STAGES, STORAGE_EVENTS, UPLOADS


def test_topic_names_are_unique_and_namespaced() -> None:
    names = [spec.name for spec in ALL_TOPICS]
    assert len(names) == len(set(names))
    assert all(name.startswith("backdrop.") for name in names)


def test_every_stage_has_an_input_topic() -> None:
    stages = {spec.name.removeprefix("backdrop.stage.") for spec in STAGES}
    assert stages == {"extract", "score", "segment", "matte", "composite", "encode", "assemble"}


def test_public_topics_are_declared() -> None:
    assert {UPLOADS.name, JOBS.name, STORAGE_EVENTS.name} <= {spec.name for spec in ALL_TOPICS}


def test_config_carries_retention() -> None:
    assert JOBS.config["retention.ms"] == str(JOBS.retention_ms)
    assert all(spec.partitions >= 1 and spec.retention_ms > 0 for spec in ALL_TOPICS)
