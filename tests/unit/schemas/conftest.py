from __future__ import annotations

from pathlib import Path

import pytest

EVENTS_V1 = Path(__file__).parents[2] / "data" / "events" / "v1"


@pytest.fixture
def submit_json() -> dict[str, object]:
    """A minimal valid submit event, as a producer would publish it."""
    return {
        "event_type": "submit",
        "job_id": "job_4vJ9kQ2mXcR7tP1sLwE8aZ",
        "source": {"url": "https://media.example.com/talk.mp4"},
    }
