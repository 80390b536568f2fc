"""Write the JSON Schema of each event family to ``schemas/json/``, deterministically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.common import SCHEMA_VERSION
from schemas.lifecycle import LIFECYCLE_ADAPTER
from schemas.stage import STAGE_ADAPTER
from schemas.submit import SUBMIT_ADAPTER

JSON_DIR = Path(__file__).parent / "json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# File stem → (adapter, title, description).
FAMILIES: dict[str, tuple[TypeAdapter[Any], str, str]] = {
    "submit-job": (
        SUBMIT_ADAPTER,
        "SubmitJob",
        "Public: publish to backdrop.uploads, keyed by job_id, to start a job.",
    ),
    "lifecycle-event": (
        LIFECYCLE_ADAPTER,
        "LifecycleEvent",
        "Public: what happens to a job, on backdrop.jobs keyed by job_id; 'event_type' tells which.",
    ),
    "stage-event": (
        STAGE_ADAPTER,
        "StageEvent",
        "Internal: work for one stage, on backdrop.stage.<stage>; 'event_type' tells which.",
    ),
}


def render(adapter: TypeAdapter[Any], title: str, description: str) -> str:
    """One family's schema as sorted, indented JSON with a trailing newline."""
    schema = adapter.json_schema()
    schema.update({"$schema": DIALECT, "title": title, "description": description})
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files() -> dict[str, str]:
    """File name → content for every event family at the current schema version."""
    return {
        f"{stem}.v{SCHEMA_VERSION}.json": render(adapter, title, description)
        for stem, (adapter, title, description) in FAMILIES.items()
    }


def export(directory: Path = JSON_DIR, check: bool = False) -> list[str]:
    """Write (or with ``check``, only compare) the schema files; return the names that differed."""
    differing = []
    for name, content in expected_files().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            differing.append(name)
            if not check:
                directory.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
    return differing
