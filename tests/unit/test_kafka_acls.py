"""Who may do what on the broker (infra/kafka_acls.py), and how each client authenticates (Settings)."""

from __future__ import annotations

import json
from pathlib import Path

from base.settings import Settings
from infra.kafka_acls import PUBLIC_PUBLISHER, PUBLIC_READER, grants
from schemas import PIPELINE
from streams.topics import JOBS, UPLOADS, stage_inputs, stage_topic


def _topics(role: str, operation: str) -> set[str]:
    return {g.name for g in grants("backdrop")[role] if g.resource == "topic" and g.operation == operation}


def test_the_public_principals_touch_one_topic_each() -> None:
    assert _topics(PUBLIC_PUBLISHER, "write") == {UPLOADS.name}
    assert _topics(PUBLIC_PUBLISHER, "read") == set()
    assert _topics(PUBLIC_READER, "read") == {JOBS.name}
    assert _topics(PUBLIC_READER, "write") == set()


def test_each_stage_reads_its_inputs_and_writes_only_where_its_events_go() -> None:
    for position, stage in enumerate(PIPELINE):
        assert _topics(stage, "read") == {spec.name for spec in stage_inputs(stage)}
        written = _topics(stage, "write")
        assert JOBS.name in written
        assert UPLOADS.name not in written
        later = {stage_topic(other).name for other in PIPELINE[position + 2 :]}
        assert not written & later, f"{stage} could skip a stage"
    # Only extract's gate passes submits on to extraction, which the read model trusts.
    writers = {role for role in grants("backdrop") if stage_topic("extract").name in _topics(role, "write")}
    assert writers == {"extract"}


def test_only_the_pipeline_and_the_api_write_lifecycle_events() -> None:
    writers = {role for role in grants("backdrop") if JOBS.name in _topics(role, "write")}
    assert writers == {*PIPELINE, "api"}


def test_clients_authenticate_as_configured_or_as_the_local_admin(tmp_path: Path) -> None:
    named = Settings(kafka_username="score", kafka_password="pw", state_dir=tmp_path)
    assert named.kafka_config["sasl.username"] == "score"
    assert named.kafka_config["sasl.password"] == "pw"
    assert named.kafka_config["security.protocol"] == "SASL_PLAINTEXT"
    assert named.aiokafka_config["sasl_plain_username"] == "score"
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "principals.json").write_text(json.dumps({"admin": "s3cret"}))
    local = Settings(state_dir=tmp_path)
    assert (local.kafka_config["sasl.username"], local.kafka_config["sasl.password"]) == ("admin", "s3cret")
    plain = Settings(kafka_security_protocol="PLAINTEXT", state_dir=tmp_path)
    assert "sasl.username" not in plain.kafka_config
