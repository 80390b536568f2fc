"""`backdrop soak`: jobs submitted through the API at a steady rate for minutes, the stack watched meanwhile.

Every ``sample_every_s`` it reads each local process's resident memory (the servers and the workers of
`backdrop up`, by pid) and each consumer group's lag; every job's latency runs from its upload to its
terminal event on ``backdrop.jobs``. The report says whether memory grows (a least-squares slope per
process, in MB per minute), how far lag went, the latency percentiles, and whether any job was lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backdrop.api_client import api_client, upload
from backdrop.sample import write_sample
from backdrop.submit import follow_from_now
from base.settings import Settings
from schemas import TERMINAL_TYPES, JobOptions, parse_lifecycle
from streams.admin import admin_client
from streams.lag import group_lag


@dataclass
class Sample:
    at_s: float  # since the soak began
    rss_mb: dict[str, float]  # by process name
    lag: dict[str, int]  # by consumer group name (stage, projector)


@dataclass
class SoakReport:
    minutes: float
    rate_per_minute: float
    submitted: int
    completed: int
    failed: int
    unfinished: int  # submitted, no terminal event by the end of the drain: lost, or still running
    latency_p50_s: float | None
    latency_p99_s: float | None
    latency_max_s: float | None
    rss_slope_mb_per_min: dict[str, float]
    # The same over the last three quarters: a model loaded and caches filled at the start are no leak.
    rss_slope_after_warmup_mb_per_min: dict[str, float]
    rss_first_mb: dict[str, float]
    rss_last_mb: dict[str, float]
    lag_max: dict[str, int]
    lag_last: dict[str, int]
    samples: list[Sample] = field(repr=False)

    def as_json(self) -> dict[str, Any]:
        found = asdict(self)
        found.pop("samples")
        return found


def rss_mb(pid: int) -> float | None:
    """A live process's resident set in MB (Linux ``/proc``); None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def slope_per_minute(times_s: list[float], values: list[float]) -> float:
    """Least-squares slope of ``values`` over time, per minute (0 with fewer than three points)."""
    if len(values) < 3:
        return 0.0
    gradient, _ = np.polyfit(np.asarray(times_s) / 60.0, np.asarray(values), 1)
    return float(gradient)


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarize(
    samples: list[Sample],
    latencies: Mapping[str, float],
    ends: Mapping[str, str],
    submitted: int,
    minutes: float,
    rate: float,
) -> SoakReport:
    """The report of a finished soak (pure: the unit tests feed it made-up samples)."""
    names = sorted({name for sample in samples for name in sample.rss_mb})
    warm = samples[-1].at_s / 4 if samples else 0.0
    slopes, settled, first, last = {}, {}, {}, {}
    for name in names:
        points = [(s.at_s, s.rss_mb[name]) for s in samples if name in s.rss_mb]
        slopes[name] = _slope(points)
        settled[name] = _slope([(t, v) for t, v in points if t >= warm])
        first[name], last[name] = round(points[0][1], 1), round(points[-1][1], 1)
    groups = sorted({name for sample in samples for name in sample.lag})
    taken = sorted(latencies.values())
    return SoakReport(
        minutes=minutes,
        rate_per_minute=rate,
        submitted=submitted,
        completed=sum(1 for kind in ends.values() if kind == "completed"),
        failed=sum(1 for kind in ends.values() if kind != "completed"),
        unfinished=submitted - len(ends),
        latency_p50_s=_round(percentile(taken, 50)),
        latency_p99_s=_round(percentile(taken, 99)),
        latency_max_s=_round(max(taken) if taken else None),
        rss_slope_mb_per_min=slopes,
        rss_slope_after_warmup_mb_per_min=settled,
        rss_first_mb=first,
        rss_last_mb=last,
        lag_max={g: max(s.lag.get(g, 0) for s in samples) for g in groups},
        lag_last={g: samples[-1].lag.get(g, 0) for g in groups} if samples else {},
        samples=samples,
    )


def _slope(points: list[tuple[float, float]]) -> float:
    return round(slope_per_minute([t for t, _ in points], [v for _, v in points]), 3)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class _Ends(threading.Thread):
    """Follows ``backdrop.jobs`` from now on: when each watched job ended, and how."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="soak-ends", daemon=True)
        self.consumer = follow_from_now(settings)
        self.watched: dict[str, float] = {}  # job id → when it was uploaded
        self.latency: dict[str, float] = {}
        self.kind: dict[str, str] = {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                message = self.consumer.poll(0.5)
                if message is None or message.error():
                    continue
                try:
                    event = parse_lifecycle(message.value() or b"")
                except ValueError:
                    continue
                if event.event_type not in TERMINAL_TYPES:
                    continue
                with self.lock:
                    began = self.watched.get(event.job_id)
                    if began is not None and event.job_id not in self.kind:
                        self.kind[event.job_id] = event.event_type
                        self.latency[event.job_id] = time.monotonic() - began
        finally:
            self.consumer.close()


def soak(
    settings: Settings,
    api_key: str,
    *,
    minutes: float,
    rate_per_minute: float,
    work_dir: Path,
    clip_seconds: float = 2.0,
    sample_every_s: float = 10.0,
    drain_s: float = 180.0,
    pids: Callable[[], dict[str, int]],
    groups: Mapping[str, tuple[str, ...]],
    on_sample: Callable[[Sample, int, int], None] | None = None,
) -> SoakReport:
    """Upload a ``clip_seconds`` sample ``rate_per_minute`` times a minute for ``minutes``, then wait up to
    ``drain_s`` for the last jobs; ``pids()`` names the processes to watch, ``groups`` the consumer
    groups (name → topics) whose lag to read."""
    clip = work_dir / "soak-clip.mp4"
    write_sample(clip, seconds=clip_seconds, width=320, height=180)
    ends = _Ends(settings)
    ends.start()
    admin = admin_client(settings)
    from confluent_kafka import Consumer

    probe = Consumer({**settings.kafka_config, "group.id": settings.consumer_group("soak-probe")})
    samples: list[Sample] = []
    submitted = 0
    began = time.monotonic()
    every = 60.0 / rate_per_minute
    next_upload = next_sample = began

    def sample(now: float) -> None:
        rss = {name: mb for name, pid in pids().items() if (mb := rss_mb(pid)) is not None}
        lag = {
            name: group_lag(admin, probe, settings.consumer_group(name), list(topics))
            for name, topics in groups.items()
        }
        samples.append(Sample(round(now - began, 1), rss, lag))
        if on_sample is not None:
            with ends.lock:
                done = len(ends.kind)
            on_sample(samples[-1], submitted, done)

    try:
        with api_client(settings.api_base_url, api_key) as client:
            while (now := time.monotonic()) < began + minutes * 60:
                if now >= next_upload:
                    job = upload(client, clip, JobOptions(background="blur"))
                    with ends.lock:
                        ends.watched[job["id"]] = now
                    submitted += 1
                    next_upload += every
                if now >= next_sample:
                    sample(now)
                    next_sample += sample_every_s
                time.sleep(max(0.0, min(next_upload, next_sample) - time.monotonic()))
        drain_until = time.monotonic() + drain_s
        while time.monotonic() < drain_until:
            with ends.lock:
                if len(ends.kind) >= submitted:
                    break
            if time.monotonic() >= next_sample:
                sample(time.monotonic())
                next_sample += sample_every_s
            time.sleep(0.5)
        sample(time.monotonic())
    finally:
        ends.stopping.set()
        ends.join(10)
        probe.close()
    with ends.lock:
        return summarize(samples, dict(ends.latency), dict(ends.kind), submitted, minutes, rate_per_minute)


def plot(report: SoakReport, target: Path) -> None:
    """Resident memory per process and lag per consumer group over the soak, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (memory, lag) = pyplot.subplots(2, 1, figsize=(10, 8), sharex=True)
    minutes = [s.at_s / 60 for s in report.samples]
    for name in report.rss_first_mb:
        memory.plot(minutes, [s.rss_mb.get(name, np.nan) for s in report.samples], label=name)
    memory.set_ylabel("resident memory (MB)")
    memory.legend(fontsize="small", ncol=3)
    for name in report.lag_max:
        lag.plot(minutes, [s.lag.get(name, 0) for s in report.samples], label=name)
    lag.set_ylabel("consumer lag (messages)")
    lag.set_xlabel("minutes")
    lag.legend(fontsize="small", ncol=4)
    figure.suptitle(
        f"backdrop soak: {report.minutes:g} min at {report.rate_per_minute:g} jobs/min, "
        f"{report.completed} completed, {report.failed} failed, {report.unfinished} unfinished"
    )
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    pyplot.close(figure)
