"""`backdrop soak`: jobs submitted through the API at a steady rate for minutes, the stack watched meanwhile.

Every ``sample_every_s`` it reads each local process's resident memory (the servers and the workers of
`backdrop up`, by pid) and each consumer group's lag; every job's latency runs from its upload to its
terminal event on ``backdrop.jobs``. The report says whether memory grows (a least-squares slope per
process, in MB per minute), how far lag went, the latency percentiles, and whether any job was lost.
Given the artifacts bucket it also samples what the jobs keep there: outputs, and intermediates (which
the janitor deletes once a job ends, so they stay bounded). With faults (``bench.chaos``) it also says
what they did: the processes struck, one webhook per job, every frame in every output.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backdrop.api_client import ApiError, api_client, download_output, upload
from backdrop.sample import write_sample
from backdrop.submit import follow_from_now
from base.settings import Settings
from schemas import TERMINAL_TYPES, JobOptions, parse_lifecycle
from streams.admin import admin_client
from streams.lag import group_lag
from streams.store import JOBS_PREFIX, ObjectStore

if TYPE_CHECKING:
    import httpx

    from bench.chaos import Chaos, WebhookReceiver


@dataclass
class Sample:
    at_s: float  # since the soak began
    rss_mb: dict[str, float]  # by process name
    lag: dict[str, int]  # by consumer group name (stage, projector)
    stored_mb: dict[str, float] = field(default_factory=dict)  # outputs, intermediates


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
    intermediates_mb_max: float | None
    stored_mb_last: dict[str, float]
    samples: list[Sample] = field(repr=False)
    struck: list[dict[str, Any]] = field(default_factory=list)  # the faults: when, which process, its pid
    webhooks: dict[str, int] | None = None  # jobs with one delivery, none, more; repeated POSTs
    frames: dict[str, Any] | None = None  # outputs checked, with every frame, and the jobs without

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
        intermediates_mb_max=max((s.stored_mb.get("intermediates", 0.0) for s in samples), default=None)
        if any(s.stored_mb for s in samples)
        else None,
        stored_mb_last=samples[-1].stored_mb if samples else {},
        samples=samples,
    )


# What a job keeps once it ended (streams.retention): its outputs under assemble/, its hero stills and
# its markers. Anything else under jobs/ is an intermediate: of a running job, or not yet cleaned up.
_KEPT_SUFFIXES = ("/claim.json", "/stopped", "/hero.png")


def stored_mb(store: ObjectStore) -> dict[str, float]:
    """Megabytes under jobs/ in the artifacts bucket: outputs (and markers), and intermediates."""
    outputs = intermediates = 0
    for key, size in store.sizes(JOBS_PREFIX).items():
        if "/assemble/" in key or key.endswith(_KEPT_SUFFIXES):
            outputs += size
        else:
            intermediates += size
    return {"outputs": round(outputs / 1e6, 2), "intermediates": round(intermediates / 1e6, 2)}


def _upload(
    client: httpx.Client,
    clip: Path,
    webhook_url: str | None,
    meanwhile: Callable[[], None],
    patience_s: float = 120.0,
) -> str:
    """Upload one job, asking again while the API answers 503 (a server it needs is restarting);
    ``meanwhile`` runs between the tries (the chaos goes on, and starts that server again)."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return str(upload(client, clip, JobOptions(background="blur"), webhook_url)["id"])
        except ApiError as exc:
            if "503" not in str(exc) or time.monotonic() > deadline:
                raise
            meanwhile()
            time.sleep(1.0)


def _projected(client: httpx.Client, job_id: str, timeout_s: float = 120.0) -> None:
    """Wait for the read model to show the job's end: it follows ``backdrop.jobs``, where the soak saw the
    end, by a moment, or by longer while a killed projector restarts."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get(f"/v1/jobs/{job_id}").json().get("status") in TERMINAL_TYPES:
            return
        time.sleep(0.5)
    # Not there in time: download_output says what is missing.


def _check_frames(client: httpx.Client, job_ids: list[str], expected: int, work_dir: Path) -> dict[str, Any]:
    """Download each output and count its frames."""
    from bench.chaos import frame_count

    wrong: list[str] = []
    for job_id in job_ids:
        _projected(client, job_id)
        target = work_dir / f"{job_id}.mp4"
        download_output(client, job_id, target)
        if frame_count(target) != expected:
            wrong.append(job_id)
        target.unlink()
    return {"checked": len(job_ids), "expected_frames": expected, "wrong": wrong}


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
    store: ObjectStore | None = None,
    chaos: Chaos | None = None,
    webhooks: WebhookReceiver | None = None,
    check_frames: bool = False,
) -> SoakReport:
    """Upload a ``clip_seconds`` sample ``rate_per_minute`` times a minute for ``minutes``, then wait up to
    ``drain_s`` for the last jobs; ``pids()`` names the processes to watch, ``groups`` the consumer
    groups (name → topics) whose lag to read, ``store`` the artifacts bucket whose use to sample.
    ``chaos`` strikes its faults along the way; each job names ``webhooks`` as its webhook; with
    ``check_frames`` every completed job's output is downloaded and its frames counted."""
    clip = work_dir / "soak-clip.mp4"
    write_sample(clip, seconds=clip_seconds, width=320, height=180)
    ends = _Ends(settings)
    ends.start()
    admin = admin_client(settings)
    samples: list[Sample] = []
    submitted = 0
    began = time.monotonic()
    every = 60.0 / rate_per_minute
    next_upload = next_sample = began

    def sample(now: float) -> None:
        rss = {name: mb for name, pid in pids().items() if (mb := rss_mb(pid)) is not None}
        lag = {
            name: group_lag(admin, settings.consumer_group(name), list(topics))
            for name, topics in groups.items()
        }
        stored = stored_mb(store) if store is not None else {}
        samples.append(Sample(round(now - began, 1), rss, lag, stored))
        if on_sample is not None:
            with ends.lock:
                done = len(ends.kind)
            on_sample(samples[-1], submitted, done)

    def tick() -> None:
        if chaos is not None:
            chaos.tick(time.monotonic() - began)

    try:
        with api_client(settings.api_base_url, api_key) as client:
            while (now := time.monotonic()) < began + minutes * 60:
                tick()
                if now >= next_upload:
                    job_id = _upload(client, clip, webhooks.url if webhooks is not None else None, tick)
                    with ends.lock:
                        ends.watched[job_id] = now
                    submitted += 1
                    next_upload += every
                if now >= next_sample:
                    sample(now)
                    next_sample += sample_every_s
                time.sleep(min(0.5, max(0.0, min(next_upload, next_sample) - time.monotonic())))
            if chaos is not None:
                chaos.finish()
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
            with ends.lock:
                kinds = dict(ends.kind)
                watched = list(ends.watched)
            frames = None
            if check_frames:
                from bench.chaos import frame_count

                done = [job_id for job_id, kind in kinds.items() if kind == "completed"]
                frames = _check_frames(client, done, frame_count(clip), work_dir)
    finally:
        ends.stopping.set()
        ends.join(10)
    with ends.lock:
        report = summarize(samples, dict(ends.latency), kinds, submitted, minutes, rate_per_minute)
    if chaos is not None:
        report.struck = [asdict(struck) for struck in chaos.struck]
    if webhooks is not None:
        # Give the dispatcher a moment for the last jobs' deliveries.
        deadline = time.monotonic() + 30
        while webhooks.tally(watched)["none"] and time.monotonic() < deadline:
            time.sleep(0.5)
        report.webhooks = webhooks.tally(watched)
    report.frames = frames
    return report


def plot(report: SoakReport, target: Path) -> None:
    """Resident memory per process and lag per consumer group over the soak, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    stored = any(s.stored_mb for s in report.samples)
    panels = pyplot.subplots(3 if stored else 2, 1, figsize=(10, 11 if stored else 8), sharex=True)
    figure, (memory, lag, *rest) = panels
    minutes = [s.at_s / 60 for s in report.samples]
    for name in report.rss_first_mb:
        memory.plot(minutes, [s.rss_mb.get(name, np.nan) for s in report.samples], label=name)
    memory.set_ylabel("resident memory (MB)")
    memory.legend(fontsize="small", ncol=3)
    for name in report.lag_max:
        lag.plot(minutes, [s.lag.get(name, 0) for s in report.samples], label=name)
    lag.set_ylabel("consumer lag (messages)")
    lag.legend(fontsize="small", ncol=4)
    for axis in rest:  # what the jobs keep in the artifacts bucket
        for kind in ("outputs", "intermediates"):
            axis.plot(minutes, [s.stored_mb.get(kind, np.nan) for s in report.samples], label=kind)
        axis.set_ylabel("artifacts bucket (MB)")
        axis.legend(fontsize="small")
    (rest[-1] if rest else lag).set_xlabel("minutes")
    figure.suptitle(
        f"backdrop soak: {report.minutes:g} min at {report.rate_per_minute:g} jobs/min, "
        f"{report.completed} completed, {report.failed} failed, {report.unfinished} unfinished"
    )
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    pyplot.close(figure)
