"""Events that break the contract raise ValidationError; unknown fields are ignored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import ChunkRef, JobOptions, parse_background, parse_lifecycle, parse_stage, parse_submit
from tests.unit.schemas.conftest import EVENTS_V1


def _with(base: dict[str, Any], path: str, value: Any) -> str:
    """``base`` as JSON with the dotted ``path`` set to ``value``."""
    event = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    node = event
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return json.dumps(event)


def test_unknown_fields_are_ignored(submit_json: dict[str, Any]) -> None:
    text = _with(submit_json, "options.sparkle", True)
    text = _with(json.loads(text), "priority", "high")
    event = parse_submit(text)
    assert event.options == JobOptions()
    assert not hasattr(event, "priority")


def test_unknown_fields_are_ignored_in_nested_stage_values() -> None:
    event = json.loads((EVENTS_V1 / "chunk-task.json").read_text())
    event["media"]["hdr"] = "pq"
    event["chunk"]["keyframe"] = True
    assert parse_stage(json.dumps(event)) == parse_stage((EVENTS_V1 / "chunk-task.json").read_bytes())


def test_missing_job_id_is_rejected(submit_json: dict[str, Any]) -> None:
    del submit_json["job_id"]
    with pytest.raises(ValidationError, match="job_id"):
        parse_submit(json.dumps(submit_json))


@pytest.mark.parametrize("job_id", ["", "job", "jobs/../etc", "job id with spaces", "j" * 65])
def test_unsafe_job_ids_are_rejected(submit_json: dict[str, Any], job_id: str) -> None:
    with pytest.raises(ValidationError, match="job_id"):
        parse_submit(_with(submit_json, "job_id", job_id))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("source.url", "not a url"),
        ("source.url", "http://media.example.com/talk.mp4"),
        ("source.url", "file:///etc/passwd"),
        ("source", {}),
        ("source", "https://media.example.com/talk.mp4"),
        ("source", {"object": {"bucket": "Bad_Bucket", "key": "a.mp4"}}),
        ("webhook_url", "ftp://hooks.example.com"),
        ("options.output_format", "avi"),
        ("options.heroes", 99),
        ("options.heroes", -1),
        ("options.model", "../weights.onnx"),
        ("options.background", "purplish"),
        ("options.background", "blur:0"),
        ("options.background", "blur:500"),
        ("options.background", "#12345"),
        ("options.background", "/home/me/beach.jpg"),
        ("options.background", "s3://backdrop-uploads/notes.txt"),
        ("options.background", "transparent"),  # the default output_format mp4 holds no alpha
        ("occurred_at", "2025-03-14T08:26:53"),
        ("event_type", "submitted"),
    ],
)
def test_invalid_submit_is_rejected(submit_json: dict[str, Any], path: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        parse_submit(_with(submit_json, path, value))


@pytest.mark.parametrize(
    "background",
    [
        "blur",
        "BLUR:2.5",
        "#0f0",
        "#00FF00",
        "White",
        "rebeccapurple",
        "s3://backdrop-uploads/bg/beach.jpg",
        "contain:s3://backdrop-uploads/bg/poster.PNG",
        "s3://backdrop-uploads/bg/waves.mp4",
    ],
)
def test_background_specs_the_cli_takes_are_accepted(background: str) -> None:
    assert JobOptions(background=background).background == parse_background(background)


def test_transparent_is_accepted_where_the_output_holds_alpha() -> None:
    assert JobOptions(background="transparent", output_format="mov").output_format == "mov"


def test_unknown_lifecycle_type_is_rejected() -> None:
    event = json.loads((EVENTS_V1 / "cancelled.json").read_text())
    event["event_type"] = "paused"
    with pytest.raises(ValidationError, match="event_type"):
        parse_lifecycle(json.dumps(event))


def test_more_chunks_done_than_exist_is_rejected() -> None:
    event = json.loads((EVENTS_V1 / "stage-progress.json").read_text())
    event["chunks_done"] = 31
    with pytest.raises(ValidationError, match="exceeds"):
        parse_lifecycle(json.dumps(event))


@pytest.mark.parametrize(
    "fields",
    [
        {"index": 0, "start": 10, "stop": 10, "warmup_start": 0, "count": 1},  # empty
        {"index": 0, "start": 10, "stop": 20, "warmup_start": 12, "count": 1},  # warm-up after start
        {"index": 2, "start": 0, "stop": 20, "warmup_start": 0, "count": 2},  # index past the count
    ],
)
def test_inconsistent_chunk_is_rejected(fields: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        ChunkRef(**fields)


@pytest.mark.parametrize(("path", "value"), [("media.fps", "23.976"), ("stage", "extract"), ("attempt", -1)])
def test_invalid_chunk_task_is_rejected(path: str, value: Any) -> None:
    event = json.loads((EVENTS_V1 / "chunk-task.json").read_text())
    with pytest.raises(ValidationError):
        parse_stage(_with(event, path, value))


def test_events_are_frozen(submit_json: dict[str, Any]) -> None:
    event = parse_submit(json.dumps(submit_json))
    with pytest.raises(ValidationError, match="frozen"):
        event.job_id = "job_somethingelse"  # type: ignore[misc]
