"""notify_payload: what a job_events row is announced with fits a PostgreSQL notification."""

from __future__ import annotations

import orjson

from api.projection import NOTIFY_DATA_LIMIT, notify_payload

POSTGRES_NOTIFY_LIMIT = 8000


def test_a_small_event_carries_its_data() -> None:
    data = {"job_id": "job_a", "chunks_done": 3, "note": "ünïcode"}
    payload = notify_payload(41, "job_a", "stage_progress", data)
    assert orjson.loads(payload) == {
        "id": 41,
        "job_id": "job_a",
        "event_type": "stage_progress",
        "data": data,
    }


def test_a_big_event_is_announced_without_its_data() -> None:
    data = {"hero_keys": ["jobs/job_a/score/" + "x" * 100] * 100}
    assert len(orjson.dumps(data)) > NOTIFY_DATA_LIMIT
    payload = notify_payload(42, "job_a", "completed", data)
    assert orjson.loads(payload) == {"id": 42, "job_id": "job_a", "event_type": "completed"}


def test_the_largest_announced_event_still_fits() -> None:
    filler = "x" * (NOTIFY_DATA_LIMIT - len(orjson.dumps({"f": ""})))
    data = {"f": filler}
    assert len(orjson.dumps(data)) == NOTIFY_DATA_LIMIT
    payload = notify_payload(2**62, "job_" + "a" * 60, "stage_progress", data)
    assert orjson.loads(payload)["data"] == data
    assert len(payload.encode()) < POSTGRES_NOTIFY_LIMIT
