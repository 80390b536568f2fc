"""`backdrop bench --api`, scaled down: it runs end to end, loses no SSE event and reports sane numbers."""

from __future__ import annotations

import pytest

from base.settings import Settings
from bench.api import bench_api

pytestmark = pytest.mark.integration


def test_scaled_down_api_bench_delivers_every_event(infra: Settings) -> None:
    report = bench_api(infra, rate=50, seconds=3, sse_clients=20, jobs=10, sse_event_rate=20, warmup_s=0.5)

    assert report["get_requests"] == 150
    assert report["get_success_ratio"] == 1
    assert report["get_status_codes"] == {"200": 150}
    assert 0 < report["get_p50_ms"] <= report["get_p99_ms"] < 5000
    assert report["sse_clients"] == 20
    # 20 events/s for 3 s over 10 jobs: 5 progress events and a completion per job, to 2 clients each.
    assert report["sse_events_published"] == 60
    assert report["sse_events_expected"] == report["sse_events_delivered"] == 120
    assert report["sse_duplicates"] == report["sse_stream_errors"] == 0
    assert 0 < report["event_to_sse_p50_ms"] <= report["event_to_sse_p99_ms"] < 10_000
    # The split at the projector's NOTIFY: both shares measured, and they add up to the whole.
    assert 0 < report["publish_to_notify_p50_ms"] <= report["event_to_sse_p99_ms"]
    assert 0 < report["notify_to_sse_p50_ms"] <= report["event_to_sse_p99_ms"]
    assert report["floors_met"]["sse_no_loss"] is True
    assert report["floors_met"]["sse_1000_clients"] is False
