"""`backdrop dlq list|show|replay` against the real broker."""

from __future__ import annotations

import uuid

import orjson
import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner, Result

from backdrop.cli import app
from base.errors import CorruptInput
from base.settings import Settings
from streams.admin import admin_client, ensure_topics
from streams.dead_letters import REPLAY_OF
from streams.delivery import ERROR_CODE, dead_letter_record
from streams.follow import consumer_at_end
from streams.headers import normalize
from streams.topics import ALL_TOPICS, dead_letter_topic, stage_topic

pytestmark = pytest.mark.integration
SEGMENT = stage_topic("segment").name
ADMITTED = stage_topic("extract").name


@pytest.fixture(scope="module")
def topics(infra: Settings) -> Settings:
    ensure_topics(admin_client(infra), ALL_TOPICS)
    return infra


def _dead_letter(settings: Settings, source: str, job_id: str, chunk: int, *, stage: str) -> None:
    """A record as a worker dead-letters it: the original bytes, the error in headers."""
    original = orjson.dumps({"job_id": job_id, "chunk": chunk})
    value, headers = dead_letter_record(
        original,
        [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")],
        source,
        chunk,
        100 + chunk,
        CorruptInput(f"chunk {chunk} would not decode"),
        stage=stage,
        attempts=3,
    )
    producer = Producer({**settings.kafka_config, "enable.idempotence": True})
    producer.produce(
        dead_letter_topic(source).name, value=value, key=f"{job_id}/{chunk}".encode(), headers=[*headers]
    )
    assert producer.flush(10) == 0


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})  # usage errors on one line


def _cli(*args: str) -> list[dict[str, object]]:
    result = _run(*args)
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_list_show_and_replay_a_jobs_dead_letters(topics: Settings) -> None:
    job, other = f"job_{uuid.uuid4().hex}", f"job_{uuid.uuid4().hex}"
    for chunk in (0, 1):
        _dead_letter(topics, SEGMENT, job, chunk, stage="segment")
    _dead_letter(topics, SEGMENT, other, 0, stage="segment")

    listed = _cli("dlq", "list", "segment", "--job", job, "--json")
    assert [(row["job_id"], row["code"], row["attempts"]) for row in listed] == [
        (job, "input_corrupt", 3)
    ] * 2
    assert {row["source"] for row in listed} == {f"{SEGMENT}:0:100", f"{SEGMENT}:1:101"}
    assert _cli("dlq", "list", "segment", "--job", job, "--code", "internal_error", "--json") == []

    first = next(row for row in listed if row["source"] == f"{SEGMENT}:0:100")
    result = _run("dlq", "show", str(first["ref"]))
    assert result.exit_code == 0, result.output
    shown = orjson.loads(result.stdout)
    assert shown["value"] == {"job_id": job, "chunk": 0}
    assert shown["message"] == "chunk 0 would not decode"

    dry = _run("dlq", "replay", "segment", "--job", job, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "2 dead letters would be replayed" in dry.output
    source = consumer_at_end(topics, SEGMENT, f"t-{uuid.uuid4().hex}")
    try:
        replayed = _run("dlq", "replay", "segment", "--job", job)
        assert replayed.exit_code == 0, replayed.output
        records = []
        for _ in range(40):
            message = source.poll(0.5)
            if message is not None and not message.error():
                records.append(message)
            if len(records) == 2:
                break
    finally:
        source.close()
    assert sorted(orjson.loads(m.value() or b"")["chunk"] for m in records) == [0, 1]
    for message in records:
        headers = dict(normalize(message.headers()))
        assert ERROR_CODE not in headers  # the original record, not the dead letter
        assert headers["traceparent"].startswith(b"00-0af76519")  # its trace goes on
        assert headers[REPLAY_OF].decode() in {row["ref"] for row in listed}
        assert (message.key() or b"").startswith(job.encode())


def test_the_projectors_admitted_submits_are_not_replayed_onto_extraction(topics: Settings) -> None:
    job = f"job_{uuid.uuid4().hex}"
    _dead_letter(topics, ADMITTED, job, 0, stage="projector")
    assert len(_cli("dlq", "list", "projector", "--job", job, "--json")) == 1
    assert _cli("dlq", "list", "extract", "--job", job, "--json") == []  # the same topic, another stage

    refused = _run("dlq", "replay", "projector", "--job", job)
    assert refused.exit_code == 2
    assert "run their jobs' extraction again" in refused.output


def test_show_names_what_is_wrong_with_a_reference(topics: Settings) -> None:
    for ref, said in (
        ("segment-7", "is not TOPIC:PARTITION:OFFSET"),
        (f"{SEGMENT}:0:999999999", "no dead letter"),
    ):
        result = _run("dlq", "show", ref)
        assert result.exit_code == 2
        assert said in result.output
