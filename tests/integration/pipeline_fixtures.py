"""Helpers of the pipeline tests: a module's own workers, their logs, job runs, and reading videos back."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from backdrop.submit import follow_from_now, submit, wait_for
from base.settings import Settings
from infra.processes import pid_alive, read_pid
from infra.workers import running_workers, start_workers, stop_workers, worker_files
from schemas import PIPELINE, JobCompleted, JobOptions, LifecycleEvent
from streams.s3_store import s3_store
from streams.topics import stage_inputs

HANDLED = re.compile(r" (\d+) INFO (\w+): handled (\w+) job=(\S+) chunk=(\S+) partition=(\d+) offset=(\d+)")


@dataclass(frozen=True)
class Handled:
    """One ``handled`` line of a worker log."""

    pid: int  # the worker process that wrote it
    stage: str
    event: str
    job_id: str
    chunk: str
    partition: int
    offset: int


@dataclass(frozen=True)
class OwnWorkers:
    """The stage workers of one test module: its own pid files and logs (in ``folder``) and its own
    consumer groups (``settings.consumer_group_prefix``), which begin at the end of their topics.

    Starting and stopping them touches no other process: not another module's workers, not a stack
    that `backdrop up` started.
    """

    settings: Settings  # as the workers see them
    folder: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)  # beside ours (e.g. OTEL_* for traces)

    @property
    def env(self) -> dict[str, str]:
        prefix = {"BACKDROP_CONSUMER_GROUP_PREFIX": self.settings.consumer_group_prefix}
        return {**os.environ, **self.extra_env, **prefix}

    def start(self, replicas: dict[str, int] | None = None) -> dict[str, list[int]]:
        """Start those of the set that are not running (one per stage unless ``replicas`` says more)."""
        return start_workers(self.settings, replicas, folder=self.folder, env=self.env)

    def stop(self) -> None:
        stop_workers(self.settings, folder=self.folder)

    def pids(self) -> dict[str, int]:
        return running_workers(self.settings, folder=self.folder)

    def pid_file(self, stage: str, replica: int = 0) -> Path:
        return worker_files(self.folder, stage, replica)[0]

    def log_file(self, stage: str, replica: int = 0) -> Path:
        return worker_files(self.folder, stage, replica)[1]

    def pid(self, stage: str, replica: int = 0) -> int | None:
        return read_pid(self.pid_file(stage, replica))

    def group(self, stage: str) -> str:
        return self.settings.consumer_group(stage)


_COORDINATOR_MOVING = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
}


def begin_at_end(settings: Settings, group: str, topics: list[str], timeout_s: float = 60) -> None:
    """Commit ``group``'s offsets at the current end of ``topics``: it skips what earlier modules left.

    Retried while the partitions have no leader yet (topics that a fresh broker has only just created).
    """
    consumer = Consumer({**settings.kafka_config, "group.id": group})
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                offsets = []
                for topic in topics:
                    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
                    for partition in metadata.partitions:
                        at = TopicPartition(topic, partition)
                        offsets.append(
                            TopicPartition(topic, partition, consumer.get_watermark_offsets(at, 10)[1])
                        )
                consumer.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as exc:
                # A fresh broker also answers commits with the group coordinator still moving or loading,
                # which librdkafka does not mark retriable.
                waiting = exc.args[0].retriable() or exc.args[0].code() in _COORDINATOR_MOVING
                if time.monotonic() > deadline or not waiting:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()


@contextlib.contextmanager
def own_workers(
    settings: Settings,
    folder: Path,
    replicas: dict[str, int] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[OwnWorkers]:
    """One worker per stage (or ``replicas``) of a module's own, started as `backdrop up` starts them,
    each in a fresh consumer group, with ``env`` added to ours; all stopped on exit."""
    prefix = f"backdrop-test-{uuid.uuid4().hex[:8]}"
    workers = OwnWorkers(
        settings.model_copy(update={"consumer_group_prefix": prefix}), folder.resolve(), dict(env or {})
    )
    for stage in PIPELINE:
        begin_at_end(settings, workers.group(stage), [spec.name for spec in stage_inputs(stage)])
    workers.start()
    RUNNING.append(workers)
    try:
        yield workers
    finally:
        RUNNING.remove(workers)
        workers.stop()


# The worker sets of the modules running now: a failed test shows the end of their logs (conftest).
RUNNING: list[OwnWorkers] = []


def log_tails(lines: int = 30) -> Iterator[tuple[str, str]]:
    """(title, text): the last ``lines`` lines of each running worker's log."""
    for workers in RUNNING:
        for path in sorted((workers.folder / "logs").glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            yield f"{path.name}, last {len(text)} lines", "\n".join(text)


class LogWatch:
    """A worker's log read from a given point on: what it handled since then."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = path.stat().st_size if path.exists() else 0

    def text(self) -> str:
        if not self.path.exists():
            return ""
        with self.path.open("rb") as f:
            f.seek(self.start)
            return f.read().decode(errors="replace")

    def handled(self, job_id: str) -> list[Handled]:
        return [
            Handled(int(m[1]), m[2], m[3], m[4], m[5], int(m[6]), int(m[7]))
            for m in HANDLED.finditer(self.text())
            if m[4] == job_id
        ]

    def wait_handled(self, job_id: str, timeout_s: float) -> Handled:
        """The first message of ``job_id`` handled since the watch began."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.handled(job_id)
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"{self.path.name} handled nothing of {job_id} in {timeout_s:.0f} s")


def kill_hard(pid: int) -> None:
    """SIGKILL and wait until the process is gone (reaped when it is our child)."""
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    deadline = time.monotonic() + 10
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} survived SIGKILL")
        time.sleep(0.05)


def run_cli(*args: str) -> None:
    """``backdrop ARGS`` in a child process, with this environment (the test stack's settings)."""
    result = subprocess.run(
        [sys.executable, "-m", "backdrop", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"backdrop {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


# A flat colour shows a wrong alpha anywhere in the frame; a blurred original would hide most of it.
FLAT = "#20c040"


class JobRun:
    """A job submitted through `backdrop.submit`, followed on `backdrop.jobs` from before its submission."""

    def __init__(self, settings: Settings, source: Path, background: str = FLAT) -> None:
        self.settings = settings
        self.consumer = follow_from_now(settings)
        self.job_id = submit(settings, source, JobOptions(background=background)).job_id
        self.events: list[LifecycleEvent] = []

    def finish(self, output: Path, timeout_s: float) -> JobCompleted:
        """Wait for the job's end; the result is downloaded to ``output``."""
        try:
            final = wait_for(self.consumer, self.job_id, timeout_s=timeout_s, on_event=self.events.append)
        finally:
            self.consumer.close()
        assert isinstance(final, JobCompleted), f"job {self.job_id} ended {final.model_dump_json()}"
        s3_store(self.settings).get_file(final.output_key, output)
        return final


@dataclass(frozen=True)
class Video:
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB
    pts: tuple[int, ...]
    fps: Fraction
    audio: bool


def read_video(path: Path) -> Video:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, pts = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            pts.append(int(frame.pts or 0))
        fps = Fraction(stream.average_rate or 0)
        audio = bool(container.streams.audio)
    return Video(np.stack(frames), tuple(pts), fps, audio)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Over all frames together (the mean squared error of the whole clip)."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


def chunk_partition(job_id: str, index: int, partitions: int) -> int:
    """Where librdkafka's default partitioner (consistent_random: CRC-32 of the key) puts a chunk."""
    return zlib.crc32(f"{job_id}/{index}".encode()) % partitions


def spread_job_ids(chunks: int, partitions: int, distinct: int) -> Iterator[str]:
    """Job ids whose chunk keys fall on at least ``distinct`` different partitions."""
    from schemas import new_job_id

    while True:
        job_id = new_job_id()
        if len({chunk_partition(job_id, i, partitions) for i in range(chunks)}) >= distinct:
            yield job_id
