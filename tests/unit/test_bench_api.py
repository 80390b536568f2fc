"""The API bench's pure helpers: nearest-rank percentiles and the SSE clients' latency reading."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from bench.api import percentile
from bench.sse_clients import latency_ms


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_latency_is_receipt_minus_occurred_at() -> None:
    occurred = datetime(2025, 1, 31, 12, 0, 0, 250_000, tzinfo=UTC)
    data = orjson.dumps({"occurred_at": occurred.isoformat().replace("+00:00", "Z"), "event_id": "e1"})
    event_id, latency = latency_ms(data, occurred.timestamp() + 0.0125)
    assert event_id == "e1"
    assert latency == pytest.approx(12.5, abs=1e-3)
