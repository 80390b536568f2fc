"""Prometheus metrics of a stage worker, and where it serves them.

Every worker counts what became of each message (by stage, outcome and error code), times its handling,
counts the frames it took in, says whether it is busy and how many messages wait for it. With
``BACKDROP_METRICS_PORT`` set it serves them on ``/metrics`` (0: any free port). It then also writes a
Prometheus file-based discovery entry, ``<metrics dir>/<stage>-<pid>.json``, so one scrape job finds
every worker of a machine whatever its port (``infra/prometheus/prometheus.yml``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from base.settings import Settings

log = logging.getLogger("backdrop.metrics")

# What became of a message: its events published, its job failed (bad input), dead-lettered, or
# skipped because its job had stopped (cancelled, or ended before this redelivery). The webhook
# dispatcher counts deliveries: handled (delivered), retried (to be tried again later) and failed (given
# up).
OUTCOMES = ("handled", "failed", "dead_lettered", "skipped")
# A chunk takes 0.05 s (score) to minutes (a 4K chunk on CPU): buckets span both.
SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 900)


@dataclass(frozen=True)
class _Families:
    """The metric families, registered once per registry (Prometheus refuses a name twice)."""

    messages: Counter
    seconds: Histogram
    frames: Counter
    busy: Gauge
    lag: Gauge

    @classmethod
    def of(cls, registry: CollectorRegistry) -> _Families:
        with _registering:
            if registry not in _registered:
                _registered[registry] = cls(
                    Counter(
                        "backdrop_messages",
                        "Messages taken off the stage's topics, by what became of them.",
                        ("stage", "outcome", "code"),
                        registry=registry,
                    ),
                    Histogram(
                        "backdrop_handle_seconds",
                        "Time to handle one message, retries included (the projector: one batch).",
                        ("stage",),
                        buckets=SECONDS_BUCKETS,
                        registry=registry,
                    ),
                    Counter(
                        "backdrop_frames",
                        "Video frames in the chunks the stage handled.",
                        ("stage",),
                        registry=registry,
                    ),
                    Gauge("backdrop_in_flight", "Messages being handled now.", ("stage",), registry=registry),
                    Gauge(
                        "backdrop_consumer_lag",
                        "Messages waiting for this worker (its partitions past its position), measured "
                        "every 15 s.",
                        ("stage",),
                        registry=registry,
                    ),
                )
            return _registered[registry]


_registered: dict[CollectorRegistry, _Families] = {}
_registering = threading.Lock()


class WorkerMetrics:
    """One stage's metrics in ``registry`` (the process's default one unless a test gives its own)."""

    def __init__(self, stage: str, registry: CollectorRegistry = REGISTRY) -> None:
        self.stage = stage
        families = _Families.of(registry)
        self.messages, self.seconds, self.frames = families.messages, families.seconds, families.frames
        self.busy, self.lag = families.busy, families.lag
        for outcome in OUTCOMES:  # present from the start, at 0: a rate() needs the series to exist
            self.messages.labels(stage, outcome, "")

    def outcome(self, outcome: str, code: str = "", count: int = 1) -> None:
        self.messages.labels(self.stage, outcome, code).inc(count)

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        busy = self.busy.labels(self.stage)
        busy.inc()
        try:
            with self.seconds.labels(self.stage).time():
                yield
        finally:
            busy.dec()

    def took_frames(self, count: int) -> None:
        self.frames.labels(self.stage).inc(count)

    def waiting(self, backlog: int | None) -> None:
        if backlog is not None:
            self.lag.labels(self.stage).set(backlog)


@contextlib.contextmanager
def served(name: str, settings: Settings) -> Iterator[WorkerMetrics]:
    """This process's metrics as ``name``, served as the settings say (``serve``) until the block ends,
    when its discovery entry is withdrawn."""
    serve(name, settings.metrics_port, settings.metrics_host, settings.metrics_dir)
    try:
        yield WorkerMetrics(name)
    finally:
        forget(name, settings.metrics_dir)


def discovery_entry(targets_dir: Path, name: str, pid: int) -> Path:
    """Where a process announces its /metrics: ``<name>-<pid>.json`` (`backdrop down` reads the pid)."""
    return targets_dir / f"{name}-{pid}.json"


def serve(name: str, port: int | None, host: str, targets_dir: Path) -> int | None:
    """Serve ``/metrics`` on ``port`` (0: any free one) and register it for discovery; the port, or None
    when off (no port) or when it cannot listen (the worker runs on, unmeasured, and says so)."""
    if port is None:
        return None
    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as exc:
        log.warning("%s: cannot serve metrics on %s:%s (%s); running without", name, host, port, exc)
        return None
    bound = int(server.server_port)
    targets_dir.mkdir(parents=True, exist_ok=True)
    entry = discovery_entry(targets_dir, name, os.getpid())
    partial = entry.with_suffix(".partial")
    partial.write_bytes(
        orjson.dumps([{"targets": [f"{host}:{bound}"], "labels": {"worker": name, "pid": str(os.getpid())}}])
    )
    partial.replace(entry)  # Prometheus reads whole files only
    log.info("%s: metrics on http://%s:%s/metrics", name, host, bound)
    return bound


def forget(name: str, targets_dir: Path) -> None:
    """Take this process's discovery entry away (at a clean exit; `backdrop down` clears the rest)."""
    discovery_entry(targets_dir, name, os.getpid()).unlink(missing_ok=True)
