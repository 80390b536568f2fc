"""`backdrop soak`'s arithmetic: memory slopes, latency percentiles, lost jobs, and its plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import Sample, plot, slope_per_minute, summarize


def _samples(growth_mb_per_min: float) -> list[Sample]:
    return [
        Sample(
            at_s=minute * 60.0,
            rss_mb={"segment": 500 + growth_mb_per_min * minute + (3 if minute % 2 else -3), "kafka": 800.0},
            lag={"segment": minute % 3, "projector": 0},
        )
        for minute in range(10)
    ]


def test_a_steady_process_has_a_flat_slope_and_a_leak_does_not() -> None:
    flat = summarize(_samples(0.0), {}, {}, 0, 10, 1)
    leak = summarize(_samples(4.0), {}, {}, 0, 10, 1)
    assert abs(flat.rss_slope_mb_per_min["segment"]) < 1  # noise of ±3 MB around a level line
    assert leak.rss_slope_mb_per_min["segment"] == pytest.approx(4.0, abs=0.5)
    assert flat.rss_slope_mb_per_min["kafka"] == 0
    assert leak.rss_slope_after_warmup_mb_per_min["segment"] == pytest.approx(4.0, abs=0.5)
    assert (flat.rss_first_mb["kafka"], flat.rss_last_mb["kafka"]) == (800.0, 800.0)
    assert flat.lag_max == {"projector": 0, "segment": 2}
    assert flat.lag_last == {"projector": 0, "segment": 0}


def test_memory_taken_while_warming_up_is_no_leak() -> None:
    samples = _samples(0.0)
    samples[0].rss_mb["segment"] = 150.0  # before the model was loaded
    report = summarize(samples, {}, {}, 0, 10, 1)
    assert report.rss_slope_mb_per_min["segment"] > 10
    assert abs(report.rss_slope_after_warmup_mb_per_min["segment"]) < 1


def test_latency_percentiles_and_jobs_that_never_ended() -> None:
    latencies = {f"job_{n:08d}": float(n) for n in range(1, 101)}
    ends = {job: "completed" for job in latencies} | {"job_00000001": "failed"}
    report = summarize(_samples(0.0), latencies, ends, submitted=103, minutes=10, rate=10.3)
    assert (report.completed, report.failed, report.unfinished) == (99, 1, 3)
    assert report.latency_p50_s == pytest.approx(50.5)
    assert report.latency_p99_s == pytest.approx(99.01)
    assert report.latency_max_s == 100
    assert "samples" not in report.as_json()


def test_no_jobs_no_percentiles_and_too_few_points_no_slope() -> None:
    assert summarize([], {}, {}, 0, 1, 1).latency_p50_s is None
    assert slope_per_minute([0.0, 60.0], [1.0, 100.0]) == 0.0


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    target = tmp_path / "soak.png"
    plot(summarize(_samples(1.0), {}, {}, 0, 10, 1), target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_storage_is_reported_when_sampled() -> None:
    samples = _samples(0.0)
    assert summarize(samples, {}, {}, 0, 10, 1).intermediates_mb_max is None
    for minute, sample in enumerate(samples):
        sample.stored_mb = {"outputs": 10.0 * minute, "intermediates": 5.0 if minute == 3 else 1.0}
    report = summarize(samples, {}, {}, 0, 10, 1)
    assert report.intermediates_mb_max == 5.0
    assert report.stored_mb_last == {"outputs": 90.0, "intermediates": 1.0}
