"""EventHub.dispatch: a notification reaches exactly its job's subscribers; a slow one is told to resync."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from api.live import QUEUE_LIMIT, RESYNC, Announced, EventHub, Update


def _note(job_id: str, event_id: int, data: dict[str, object] | None = None) -> str:
    note: dict[str, object] = {"id": event_id, "job_id": job_id, "event_type": "stage_progress"}
    if data is not None:
        note["data"] = data
    return orjson.dumps(note).decode()


def _drain(queue: asyncio.Queue[Update]) -> list[Update]:
    return [queue.get_nowait() for _ in range(queue.qsize())]


def test_dispatch_reaches_only_that_jobs_subscribers() -> None:
    hub = EventHub("postgresql://unused")
    first, second, other = hub.subscribe("job_a"), hub.subscribe("job_a"), hub.subscribe("job_b")
    hub.dispatch(_note("job_a", 7, {"chunks_done": 1}))
    hub.dispatch(_note("job_c", 8))  # nobody follows job_c
    expected = Announced(7, "job_a", "stage_progress", {"chunks_done": 1})
    assert _drain(first) == _drain(second) == [expected]
    assert _drain(other) == []


def test_a_big_event_is_announced_without_its_data() -> None:
    hub = EventHub("postgresql://unused")
    queue = hub.subscribe("job_a")
    hub.dispatch(_note("job_a", 9))
    assert _drain(queue) == [Announced(9, "job_a", "stage_progress", None)]


@pytest.mark.parametrize(
    "payload", ["not json", "[1, 2]", '"job_a"', '{"id": 1, "event_type": "x"}', '{"job_id": "job_a"}']
)
def test_malformed_notifications_are_ignored(payload: str) -> None:
    hub = EventHub("postgresql://unused")
    queue = hub.subscribe("job_a")
    hub.dispatch(payload)
    assert queue.empty()


def test_a_full_queue_is_replaced_by_one_resync() -> None:
    hub = EventHub("postgresql://unused")
    slow, other = hub.subscribe("job_a"), hub.subscribe("job_b")
    for event_id in range(QUEUE_LIMIT + 1):
        hub.dispatch(_note("job_a", event_id, {}))
    hub.dispatch(_note("job_b", 1, {}))
    # What it missed is in the table; the subscriber reads it from there, and nobody else is affected.
    assert _drain(slow) == [RESYNC]
    assert len(_drain(other)) == 1


def test_unsubscribing_the_last_queue_forgets_the_job() -> None:
    hub = EventHub("postgresql://unused")
    queue = hub.subscribe("job_a")
    hub.unsubscribe("job_a", queue)
    hub.dispatch(_note("job_a", 1, {}))
    assert queue.empty()
    assert hub.subscriber_count == 0
    assert "job_a" not in hub.subscribers
