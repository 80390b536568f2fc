"""`backdrop bench --api`: the read-model API's floors, measured in one run against one API process.

1. ``GET /v1/jobs/{id}`` latency at a constant request rate, open loop (vegeta: requests leave on schedule
   whether or not earlier ones have answered, so a slow server cannot hide its queueing).
2. Many SSE clients on the same process (``bench.sse_clients``, in their own processes), then
   lifecycle events published to ``backdrop.jobs`` at a steady rate: every (client, event) is timed from
   publish (the event's ``occurred_at``) to receipt, and every event must reach every client.

The bench starts its own API process on a free port, uses the running projector (or starts one), makes its
own API key, and stops what it started and revokes the key at the end, also on error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from rich.console import Console
from rich.status import Status
from sqlalchemy import Engine, create_engine, func, select, update

from api.keys import NewKey, create_key
from api.migrate import upgrade
from api.tables import ApiKey, Job
from base.errors import InfraError
from base.settings import Settings
from bench.processes import Child, spawn, start_api
from bench.sse import ClientFleet, NotifyListener
from bench.vegeta import attack, ensure_vegeta
from infra.workers import running_workers
from schemas import (
    PIPELINE,
    JobAccepted,
    JobCompleted,
    JobMetrics,
    JobOptions,
    LifecycleEvent,
    MediaFacts,
    ObjectRef,
    ObjectSource,
    StageProgress,
    SubmitJob,
    new_job_id,
    utc_now,
)
from schemas.media import MEDIA_EXAMPLE
from streams.codec import encode
from streams.consumer_loop import producer_config
from streams.topics import JOBS, stage_topic

ADMITTED = stage_topic("extract")

# The floors.
GET_RATE_FLOOR, GET_P99_FLOOR_MS = 500, 10.0
SSE_CLIENTS_FLOOR, SSE_P99_FLOOR_MS = 1000, 100.0
# Progress events cycle through the stages before the last, whose end is the job's completion.
_STAGES = PIPELINE[:-1]


@dataclass(frozen=True)
class Target:
    """The API process under test and the key the bench calls it with."""

    base_url: str
    key: NewKey
    api: Child


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class Bench:
    """Holds what one run started (processes, key, producer) so ``close`` can undo all of it."""

    def __init__(self, settings: Settings, status: Status, work: Path) -> None:
        self.settings, self.status, self.work = settings, status, work
        self.log_dir = settings.state_dir.resolve() / "logs" / "bench-api"
        self.children: list[Child] = []
        self.engine: Engine = create_engine(settings.postgres_dsn, pool_size=2, pool_pre_ping=True)
        self.producer = Producer(producer_config(settings))
        self.key: NewKey | None = None  # revoked at the end

    def close(self) -> None:
        for child in reversed(self.children):
            child.stop()
        if self.key is not None:
            with self.engine.begin() as conn:
                conn.execute(update(ApiKey).where(ApiKey.id == self.key.id).values(revoked_at=func.now()))
        self.producer.flush(10)
        self.engine.dispose()

    def start(self, streams: int) -> Target:
        """Migrations, a projector if none runs, the key, and our API process, which lets the key hold
        ``streams`` SSE streams (the default cap per key is far below the thousand the floor asks for)."""
        upgrade(self.settings)
        if not any(name.startswith("worker-projector") for name in running_workers(self.settings)):
            self.status.update("starting a projector (none is running)")
            argv = [sys.executable, "-m", "backdrop", "worker", "projector"]
            self.children.append(spawn("projector", argv, self.log_dir / "projector.log"))
        with self.engine.begin() as conn:
            # A limit no bench reaches: the rate limiter's Redis round trip is still paid on every request.
            key = self.key = create_key(conn, f"bench-api {utc_now():%Y-%m-%d %H:%M:%S}", 1_000_000_000)
        self.status.update("starting the API process")
        api, base_url = start_api(
            self.settings,
            self.log_dir,
            env={"BACKDROP_SSE_STREAMS_PER_KEY": str(max(streams, 1))},
        )
        self.children.append(api)
        return Target(base_url, key, api)

    def publish(self, event: LifecycleEvent | SubmitJob) -> None:
        # A submit goes where extract's gate passes admitted submits on: where the read model learns owners.
        topic = ADMITTED.name if isinstance(event, SubmitJob) else JOBS.name
        self.producer.produce(topic, value=encode(event), key=event.job_id.encode())
        self.producer.poll(0)

    def seed_jobs(self, owner: str, count: int, chunks: int) -> list[str]:
        """``count`` accepted jobs owned by ``owner``, visible in the read model."""
        jobs = [new_job_id() for _ in range(count)]
        for job in jobs:
            source = ObjectSource(
                object=ObjectRef(bucket=self.settings.uploads_bucket, key=f"bench/{job}.mp4")
            )
            self.publish(SubmitJob(event_type="submit", job_id=job, source=source, owner=owner))
            self.publish(
                JobAccepted(
                    event_type="accepted",
                    job_id=job,
                    source=source,
                    options=JobOptions(),
                    media=MediaFacts.model_validate(MEDIA_EXAMPLE),
                    chunk_count=chunks,
                    owner=owner,
                )
            )
        if self.producer.flush(30):
            raise InfraError("Kafka did not take the bench's events within 30 s")
        deadline = time.monotonic() + 120
        query = select(func.count()).select_from(Job).where(Job.id.in_(jobs), Job.status == "running")
        while True:
            with self.engine.connect() as conn:
                seen = conn.execute(query).scalar_one()
            self.status.update(f"seeding: {seen}/{count} jobs in the read model")
            if seen == count:
                return jobs
            if time.monotonic() > deadline:
                raise InfraError(
                    f"the projector made {seen} of {count} bench jobs within 120 s; is it running?"
                )
            time.sleep(0.2)

    def get_phase(
        self, target: Target, jobs: list[str], rate: int, seconds: float, warmup_s: float
    ) -> dict[str, Any]:
        vegeta = ensure_vegeta(self.settings)
        targets = self.work / "targets.txt"
        auth = f"Authorization: Bearer {target.key.secret}"
        # vegeta cycles through the targets: the load spreads evenly over the jobs.
        targets.write_text("".join(f"GET {target.base_url}/v1/jobs/{job}\n{auth}\n\n" for job in jobs))

        def run(label: str, duration: float) -> dict[str, Any]:
            def tick(elapsed: float) -> None:
                self.status.update(f"GET /v1/jobs/{{id}} at {rate}/s ({label}): {elapsed:.0f}/{duration:g} s")

            results, log = self.work / f"{label}.bin", self.log_dir / "vegeta.log"
            return attack(
                vegeta, targets, rate=rate, seconds=duration, results=results, log=log, on_tick=tick
            )

        if warmup_s > 0:
            run("warm-up", warmup_s)
        cpu = target.api.cpu_s()
        report = run("measured", seconds)
        cpu = target.api.cpu_s() - cpu
        latencies = {name: value / 1e6 for name, value in report["latencies"].items()}
        requests = report["requests"]
        return {
            "get_rate_target": rate,
            "get_seconds": seconds,
            "get_requests": requests,
            "get_rps": round(report["rate"], 1),
            "get_p50_ms": _ms(latencies["50th"]),
            "get_p90_ms": _ms(latencies["90th"]),
            "get_p99_ms": _ms(latencies["99th"]),
            "get_max_ms": _ms(latencies["max"]),
            "get_success_ratio": report["success"],
            "get_status_codes": report["status_codes"],
            "api_cpu_ms_per_get": round(cpu * 1000 / max(1, requests), 3),
        }

    def sse_phase(
        self,
        target: Target,
        jobs: list[str],
        clients: int,
        events_per_job: int,
        event_rate: float,
        processes: int,
    ) -> dict[str, Any]:
        streams = [jobs[i % len(jobs)] for i in range(clients)]
        deadline_s = events_per_job * len(jobs) / event_rate + 60
        plan = {"base_url": target.base_url, "key": target.key.secret, "connect_timeout_s": 120}
        fleet = ClientFleet.start(streams, processes, plan | {"deadline_s": deadline_s}, self.log_dir)
        self.children += fleet.children

        def progress(connected: int) -> None:
            self.status.update(f"SSE: {connected}/{clients} clients streaming")

        connect_s = fleet.wait_ready(180, progress)
        dsn = self.settings.postgres_dsn.replace("postgresql+psycopg://", "postgresql://")
        with NotifyListener(dsn) as listener:
            cpu = target.api.cpu_s()
            published = self._publish_live(jobs, events_per_job, event_rate)
            self.status.update("SSE: waiting for the streams to end")
            results = fleet.results(deadline_s + 30)
            cpu = target.api.cpu_s() - cpu
        samples = [sample for r in results for sample in r["samples"]]
        latencies = [latency for _, latency in samples]
        delivered = sum(sum(r["delivered"]) for r in results)
        connected = sum(r["connected"] for r in results)
        # Each latency split where the API's event hub hears of the event (the projector's NOTIFY).
        heard = listener.heard
        to_notify = [(heard[e] - published[e]) * 1000 for e in published if e in heard]
        after_notify = [
            latency - (heard[e] - published[e]) * 1000
            for e, latency in samples
            if e in heard and e in published
        ]
        return {
            "sse_clients_requested": clients,
            "sse_clients": connected,
            "sse_connect_s": connect_s,
            "sse_jobs": len(jobs),
            "sse_events_published": len(published),
            "sse_event_rate": event_rate,
            "sse_events_expected": connected * events_per_job,
            "sse_events_delivered": delivered,
            "sse_duplicates": sum(r["duplicates"] for r in results),
            "sse_stream_errors": sum(r["error_count"] for r in results),
            "sse_error_samples": [e for r in results for e in r["errors"]][:5],
            "event_to_sse_p50_ms": _ms(percentile(latencies, 50)),
            "event_to_sse_p99_ms": _ms(percentile(latencies, 99)),
            "event_to_sse_max_ms": _ms(max(latencies, default=None)),
            "publish_to_notify_p50_ms": _ms(percentile(to_notify, 50)),
            "publish_to_notify_p99_ms": _ms(percentile(to_notify, 99)),
            "notify_to_sse_p50_ms": _ms(percentile(after_notify, 50)),
            "notify_to_sse_p99_ms": _ms(percentile(after_notify, 99)),
            "api_cpu_ms_per_sse_delivery": round(cpu * 1000 / max(1, delivered), 3),
            "sse_client_cpu_s": round(sum(r["cpu_s"] for r in results), 2),
        }

    def _publish_live(self, jobs: list[str], per_job: int, rate: float) -> dict[str, float]:
        """``per_job - 1`` progress events then a completion per job, round-robin, at ``rate`` per second.

        Returns each event's id → its publish moment (``occurred_at``, which the clients time against).
        """
        published: dict[str, float] = {}
        total = per_job * len(jobs)
        started = time.perf_counter()
        for i in range(total):
            round_, job = divmod(i, len(jobs))
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if i % 50 == 0:
                self.status.update(f"SSE: publishing {i}/{total} events at {rate:g}/s")
            # occurred_at (set now, by default) is the publish moment the clients time against.
            event: LifecycleEvent
            if round_ < per_job - 1:
                stage = _STAGES[round_ % len(_STAGES)]
                event = StageProgress(
                    event_type="stage_progress",
                    job_id=jobs[job],
                    stage=stage,
                    chunks_done=round_ + 1,
                    chunks_total=per_job,
                )
            else:
                event = JobCompleted(
                    event_type="completed",
                    job_id=jobs[job],
                    output_key=f"jobs/{jobs[job]}/output.mp4",
                    metrics=JobMetrics(frames=1, duration_s=1.0, processing_s=1.0, fps=1.0),
                )
            self.publish(event)
            published[str(event.event_id)] = event.occurred_at.timestamp()
        if self.producer.flush(30):
            raise InfraError("Kafka did not take the bench's events within 30 s")
        return published


@contextlib.contextmanager
def _bench(settings: Settings, console: Console, streams: int) -> Iterator[tuple[Bench, Target]]:
    with (
        tempfile.TemporaryDirectory(prefix="backdrop-bench-api-") as tmp,
        console.status("starting") as status,
    ):
        bench = Bench(settings, status, Path(tmp))
        try:
            yield bench, bench.start(streams)
        finally:
            status.update("stopping what the bench started")
            bench.close()


def bench_api(
    settings: Settings,
    *,
    rate: int = GET_RATE_FLOOR,
    seconds: float = 20.0,
    sse_clients: int = SSE_CLIENTS_FLOOR,
    jobs: int = 100,
    sse_event_rate: float = 100.0,
    client_processes: int = 2,
    warmup_s: float = 2.0,
    console: Console | None = None,
) -> dict[str, Any]:
    """Both phases against one fresh API process; one flat dict of numbers and the floors met."""
    console = console or Console(stderr=True)
    load = os.getloadavg()
    events_per_job = max(1, round(sse_event_rate * seconds / jobs))
    with _bench(settings, console, sse_clients) as (bench, target):
        job_ids = bench.seed_jobs(target.key.id, jobs, events_per_job)
        report: dict[str, Any] = {"load_average_1m_at_start": round(load[0], 2), "cpus": os.cpu_count()}
        report |= bench.get_phase(target, job_ids, rate, seconds, warmup_s)
        report |= bench.sse_phase(
            target, job_ids, sse_clients, events_per_job, sse_event_rate, client_processes
        )
    sse_p99 = report["event_to_sse_p99_ms"]
    report["floors_met"] = {
        "get_p99_le_10ms_at_500rps": report["get_rps"] >= GET_RATE_FLOOR * 0.99
        and report["get_success_ratio"] == 1.0
        and report["get_p99_ms"] <= GET_P99_FLOOR_MS,
        "sse_1000_clients": report["sse_clients"] >= SSE_CLIENTS_FLOOR,
        "sse_no_loss": report["sse_events_expected"] > 0
        and report["sse_events_delivered"] == report["sse_events_expected"]
        and report["sse_duplicates"] == 0,
        "event_to_sse_p99_le_100ms": sse_p99 is not None and sse_p99 <= SSE_P99_FLOOR_MS,
    }
    report["all_floors_met"] = all(report["floors_met"].values())
    return report
