"""A worker's Prometheus metrics: what they count, and how a scraper finds them."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streams.metrics import WorkerMetrics, forget, serve
from tests.unit.streams.test_consumer_loop import FakeMessage, make_loop

ROOT = Path(__file__).resolve().parents[3]


def test_outcomes_time_frames_busy_and_lag_are_counted_by_stage() -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics("segment", registry)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"stage": "segment", **labels})

    assert value("backdrop_messages_total", outcome="dead_lettered", code="") == 0  # there from the start
    with metrics.handling():
        assert value("backdrop_in_flight") == 1
        metrics.took_frames(48)
    with pytest.raises(RuntimeError), metrics.handling():
        raise RuntimeError("a bug")
    metrics.outcome("handled")
    metrics.outcome("failed", "input_corrupt")
    metrics.waiting(7)
    metrics.waiting(None)  # could not measure: the last measure stands
    assert value("backdrop_in_flight") == 0
    assert value("backdrop_handle_seconds_count") == 2
    assert value("backdrop_frames_total") == 48
    assert value("backdrop_messages_total", outcome="handled", code="") == 1
    assert value("backdrop_messages_total", outcome="failed", code="input_corrupt") == 1
    assert value("backdrop_consumer_lag") == 7


def test_a_served_worker_announces_its_port_for_discovery_and_withdraws_it(tmp_path: Path) -> None:
    port = serve("segment", 0, "127.0.0.1", tmp_path)
    assert port is not None
    (entry,) = tmp_path.glob("segment-*.json")
    assert orjson.loads(entry.read_bytes())[0]["targets"] == [f"127.0.0.1:{port}"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.status == 200
    forget("segment", tmp_path)
    assert list(tmp_path.glob("*.json")) == []
    assert serve("segment", None, "127.0.0.1", tmp_path) is None  # no port: not served


def test_a_port_in_use_leaves_the_worker_running_unmeasured(tmp_path: Path) -> None:
    port = serve("score", 0, "127.0.0.1", tmp_path)
    assert serve("matte", port, "127.0.0.1", tmp_path) is None
    assert [entry.name.split("-")[0] for entry in tmp_path.glob("*.json")] == ["score"]


def test_the_loop_measures_its_backlog_while_busy_too() -> None:
    measured: list[int | None] = []
    polls = [[FakeMessage(_offset=n)] for n in range(40)]
    loop, _, _, _ = make_loop(polls, on_backlog=measured.append)
    loop._backlog = lambda: 3  # type: ignore[method-assign]
    loop.run(lambda batch: True, max_messages=40)  # type: ignore[arg-type,return-value]
    assert measured  # every 15 ticks of the loop's clock, with no idle poll at all
    assert set(measured) == {3}


def test_the_grafana_dashboard_plots_metrics_the_workers_have() -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics("score", registry)
    with metrics.handling():
        metrics.took_frames(1)
    metrics.waiting(0)
    exposed = {sample.name for family in registry.collect() for sample in family.samples}
    dashboard = orjson.loads((ROOT / "infra" / "grafana" / "backdrop.json").read_bytes())
    plotted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(backdrop_[a-z_]+)", target["expr"])
    }
    assert len(plotted) >= 5
    assert plotted <= exposed, plotted - exposed


def test_two_workers_of_one_process_share_the_metric_families() -> None:
    registry = CollectorRegistry()
    WorkerMetrics("webhooks", registry).outcome("retried")
    WorkerMetrics("webhooks", registry).outcome("retried")  # a dispatcher started again, in a test
    WorkerMetrics("score", registry)
    assert (
        registry.get_sample_value(
            "backdrop_messages_total", {"stage": "webhooks", "outcome": "retried", "code": ""}
        )
        == 2
    )
