"""Helpers for the API tests: API and projector processes, keys, synthetic lifecycle events, SSE reads."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from confluent_kafka import Consumer, Producer
from sqlalchemy import create_engine, func, select

from api.keys import NewKey, create_key
from api.migrate import upgrade
from api.tables import JobEvent
from backdrop.api_client import download_output, follow, upload
from base.settings import Settings
from bench.processes import Child, spawn
from bench.processes import start_api as start_api_process
from infra.kafka_acls import principal_password
from schemas import (
    LIFECYCLE_ADAPTER,
    SUBMIT_ADAPTER,
    JobAccepted,
    JobCompleted,
    JobOptions,
    LifecycleEvent,
    SubmitJob,
    new_job_id,
    utc_now,
)
from streams.codec import encode
from streams.consumer_loop import producer_config
from streams.topics import JOBS, stage_topic
from tests import clips

ADMITTED = stage_topic("extract")

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "events" / "v1"
# The tests' webhook receivers listen here; the API processes allow exactly this address.
RECEIVER_HOST = "127.0.0.2"


@dataclass
class ApiProcess:
    child: Child
    base_url: str

    def client(self, key: str | None = None, timeout: float = 10.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def kill(self) -> None:
        self.child.process.kill()
        self.child.process.wait(10)

    def stop(self) -> None:
        self.child.stop()


def api_env(settings: Settings, principal: str = "api", **extra: str) -> dict[str, str]:
    """The environment of an API or projector process: on the broker as its own principal, whose ACLs
    are the ones a deployment grants it."""
    env = {
        **os.environ,
        "BACKDROP_URL_ALLOW_NETWORKS": orjson.dumps([f"{RECEIVER_HOST}/32"]).decode(),
        "BACKDROP_STATE_DIR": str(settings.state_dir.resolve()),
        "BACKDROP_KAFKA_USERNAME": principal,
        "BACKDROP_KAFKA_PASSWORD": principal_password(settings, principal) or "",
    }
    env.update(extra)
    return env


def start_api(settings: Settings, log_dir: Path, **env: str) -> ApiProcess:
    """``backdrop api`` on a free port, ready (``/readyz`` 200) before this returns."""
    child, base_url = start_api_process(settings, log_dir, env=api_env(settings, **env))
    return ApiProcess(child, base_url)


def start_projector(settings: Settings, log_dir: Path) -> subprocess.Popen[bytes]:
    """The projector, once the schema is in place: tests query its tables as soon as it runs."""
    upgrade(settings)
    argv = [sys.executable, "-m", "backdrop", "worker", "projector"]
    log = log_dir / f"projector-{uuid.uuid4().hex[:6]}.log"
    return spawn("projector", argv, log, env=api_env(settings, "projector")).process


def new_api_key(settings: Settings, name: str = "test", rate_limit: int | None = None) -> NewKey:
    upgrade(settings)
    engine = create_engine(settings.postgres_dsn)
    try:
        with engine.begin() as conn:
            return create_key(conn, name, rate_limit)
    finally:
        engine.dispose()


def example(name: str, **changes: Any) -> LifecycleEvent:
    """A frozen v1 example event with fields replaced (a fresh event id unless one is given)."""
    data = orjson.loads((EXAMPLES / f"{name}.json").read_bytes())
    data.update({"event_id": str(uuid.uuid4()), "occurred_at": utc_now().isoformat()}, **changes)
    return LIFECYCLE_ADAPTER.validate_python(data)


def admitted(job_id: str, owner: str | None = None, webhook_url: str | None = None) -> SubmitJob:
    """A submit as the extract stage's gate passes it on (owner proven, job id claimed): where the read
    model learns a job's owner and webhook."""
    data = orjson.loads((EXAMPLES / "submit-object.json").read_bytes())
    data.update(job_id=job_id, owner=owner, webhook_url=webhook_url, occurred_at=utc_now().isoformat())
    data.pop("idempotency_key", None)  # the example's: one key's jobs may not share it
    return SUBMIT_ADAPTER.validate_python(data)


def accepted(owner: str, job_id: str | None = None, chunks: int = 4) -> LifecycleEvent:
    return example("accepted", job_id=job_id or new_job_id(), owner=owner, chunk_count=chunks)


def progress(job_id: str, done: int, total: int = 4, stage: str = "segment") -> LifecycleEvent:
    return example("stage-progress", job_id=job_id, chunks_done=done, chunks_total=total, stage=stage)


def completed(job_id: str) -> LifecycleEvent:
    return example("completed", job_id=job_id, output_key=f"jobs/{job_id}/assemble/output.mp4")


class Publisher:
    """Lifecycle events onto ``backdrop.jobs`` and admitted submits onto ``backdrop.stage.extract``, keyed
    by job id, as the workers publish them."""

    def __init__(self, settings: Settings) -> None:
        self.producer = Producer(producer_config(settings))

    def publish(self, *events: LifecycleEvent | SubmitJob) -> None:
        """An ``accepted`` with an owner is preceded by its admitted submit, as in the pipeline (the read
        model takes owners from there only), unless ``events`` hold that job's submit already."""
        submitted = {event.job_id for event in events if isinstance(event, SubmitJob)}
        for event in events:
            if isinstance(event, JobAccepted) and event.owner and event.job_id not in submitted:
                submit = admitted(event.job_id, event.owner)
                self.producer.produce(ADMITTED.name, value=encode(submit), key=event.job_id.encode())
            topic = ADMITTED.name if isinstance(event, SubmitJob) else JOBS.name
            self.producer.produce(topic, value=encode(event), key=event.job_id.encode())
        assert self.producer.flush(30) == 0


def logged_events(settings: Settings, job_id: str) -> int:
    engine = create_engine(settings.postgres_dsn)
    try:
        with engine.connect() as conn:
            count: int = conn.execute(
                select(func.count()).select_from(JobEvent).where(JobEvent.job_id == job_id)
            ).scalar_one()
            return count
    finally:
        engine.dispose()


def values_keyed(consumer: Consumer, keys: set[str], settle_s: float = 2.0) -> list[bytes]:
    """The values of the messages keyed by one of ``keys`` the consumer reads until it has read nothing
    for ``settle_s``."""
    found: list[bytes] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < settle_s:
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        quiet_since = time.monotonic()
        if (message.key() or b"").decode(errors="replace") in keys:
            found.append(message.value() or b"")
    return found


def wait_until(condition: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass(frozen=True)
class Received:
    id: int
    event: str
    data: dict[str, Any]


def read_sse(
    client: httpx.Client, job_id: str, last_event_id: int | None = None, stop_after: int | None = None
) -> Iterator[Received]:
    """The job's SSE stream, parsed; ends with the stream or after ``stop_after`` events."""
    from httpx_sse import connect_sse

    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    with connect_sse(client, "GET", f"/v1/jobs/{job_id}/events", headers=headers) as source:
        source.response.raise_for_status()
        seen = 0
        for sse in source.iter_sse():
            if not sse.data:
                continue
            yield Received(int(sse.id), sse.event, orjson.loads(sse.data))
            seen += 1
            if stop_after is not None and seen >= stop_after:
                return


def alphas_by_model(
    client: httpx.Client, source: Path, models: Sequence[str], folder: Path
) -> dict[str, np.ndarray]:
    """Per model, the alpha planes (``[T, H, W]`` int16) of a transparent PNG job of ``source``, through
    the API: a ZIP of frames for a video, one PNG for a still."""
    found = {}
    for model in models:
        options = JobOptions(background="transparent", output_format="png", model=model)
        job = upload(client, source, options)
        final = follow(client, job["id"], lambda _: None, timeout_s=300)
        assert isinstance(final, JobCompleted), final
        out = folder / f"{model}{Path(final.output_key).suffix}"
        download_output(client, job["id"], out)
        frames = clips.read_rgba(out) if out.suffix == ".zip" else [clips.read_rgba_image(out)]
        found[model] = np.stack([frame[..., 3] for frame in frames]).astype(np.int16)
    return found
