"""Every field of every event documents itself with a description and a valid example."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

import schemas
from schemas.export import JSON_DIR

MODELS = sorted(
    (value for value in vars(schemas).values() if isinstance(value, type) and issubclass(value, BaseModel)),
    key=lambda model: model.__name__,
)


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, definition in schema.get("$defs", {}).items():
        for field, spec in definition.get("properties", {}).items():
            yield f"{name}.{field}", spec
    for field, spec in schema.get("properties", {}).items():
        yield f"{schema['title']}.{field}", spec


@pytest.mark.parametrize("path", sorted(JSON_DIR.glob("*.json")), ids=lambda path: path.name)
def test_every_exported_field_has_a_description_and_an_example(path: Path) -> None:
    schema = json.loads(path.read_text())
    properties = dict(_properties(schema))
    assert len(properties) >= 10
    undocumented = [name for name, spec in properties.items() if not spec.get("description")]
    without_example = [name for name, spec in properties.items() if not spec.get("examples")]
    assert undocumented == []
    assert without_example == []


def test_every_public_model_is_covered() -> None:
    names = {model.__name__ for model in MODELS}
    assert {"SubmitJob", "JobOptions", "ChunkTask", "AssembleTask", "JobCompleted", "MediaFacts"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_field_example_is_a_valid_value(model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        if name == "event_type" and model is schemas.Envelope:
            continue
        adapter: TypeAdapter[Any] = TypeAdapter(field.rebuild_annotation())
        assert field.description, f"{model.__name__}.{name}"
        assert field.examples, f"{model.__name__}.{name}"
        for example in field.examples:
            adapter.validate_python(example)


def test_documented_submit_examples_are_valid_events() -> None:
    schema = json.loads((JSON_DIR / "submit-job.v1.json").read_text())
    assert len(schema["examples"]) >= 2
    for example in schema["examples"]:
        assert schemas.parse_submit(json.dumps(example)).job_id == example["job_id"]
