"""Webhooks end to end: a job's end on Kafka → the projector's outbox → the dispatcher → a real receiver."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, insert, select
from standardwebhooks import Webhook

from api.dispatch import IDLE_S, run_dispatcher
from api.keys import NewKey
from api.tables import WebhookDelivery
from base.settings import Settings
from bench.processes import spawn
from schemas import new_job_id
from tests.integration.api_fixtures import (
    RECEIVER_HOST,
    Publisher,
    admitted,
    api_env,
    completed,
    example,
    wait_until,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server on RECEIVER_HOST that records every POST and answers the given statuses in turn."""

    def __init__(self, statuses: list[int], delay_s: float = 0.0, drip_s: float = 0.0) -> None:
        self.hits: list[Hit] = []
        answers = iter(statuses)
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(delay_s)  # a receiver slow to answer
                if drip_s:  # a receiver that answers one byte at a time
                    for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(drip_s)
                    return
                self.send_response(next(answers, 200))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # the test reads self.hits; the access log would only clutter the output

        self.server = ThreadingHTTPServer((RECEIVER_HOST, 0), Handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver")

    def url(self, job_id: str) -> str:
        return f"http://{RECEIVER_HOST}:{self.port}/hook/{job_id}"

    def to(self, job_id: str) -> list[Hit]:
        """The POSTs for this job (old outbox rows of other tests may reach the same port)."""
        return [hit for hit in self.hits if hit.path == f"/hook/{job_id}"]


@contextmanager
def receiving(statuses: list[int], delay_s: float = 0.0, drip_s: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(statuses, delay_s, drip_s)
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join(10)


@contextmanager
def dispatching(settings: Settings, **overrides: Any) -> Iterator[None]:
    """``backdrop worker webhooks`` in a thread, allowed to reach the receiver's address."""
    allowed = Settings(url_allow_networks=(ip_network(f"{RECEIVER_HOST}/32"),), **overrides)
    assert allowed.postgres_dsn == settings.postgres_dsn
    stop = threading.Event()
    dispatcher = threading.Thread(target=run_dispatcher, args=(allowed, stop), name="webhook-dispatcher")
    dispatcher.start()
    try:
        yield
    finally:
        stop.set()
        dispatcher.join(30)
        assert not dispatcher.is_alive(), "the dispatcher did not stop"


def delivery(settings: Settings, job_id: str) -> dict[str, Any] | None:
    """The job's outbox row, column by column."""
    engine = create_engine(settings.postgres_dsn)
    try:
        with engine.connect() as conn:
            table = WebhookDelivery.__table__
            row = conn.execute(select(table).where(table.c.job_id == job_id)).mappings().first()
            return None if row is None else dict(row)
    finally:
        engine.dispose()


def status_of(settings: Settings, job_id: str) -> str | None:
    row = delivery(settings, job_id)
    return None if row is None else str(row["status"])


def outcome(settings: Settings, job_id: str, timeout: float) -> dict[str, Any]:
    """The job's outbox row once it is no longer pending."""
    wait_until(lambda: status_of(settings, job_id) != "pending", timeout=timeout, what="a delivery outcome")
    row = delivery(settings, job_id)
    assert row is not None
    return row


def finish_job(settings: Settings, key: NewKey, receiver: Receiver) -> str:
    """A job of ``key`` with a webhook to ``receiver``, accepted and completed; its outbox row exists."""
    job_id = new_job_id()
    submit = admitted(job_id, key.id, receiver.url(job_id))
    start = example("accepted", job_id=job_id, owner=key.id, chunk_count=1)
    Publisher(settings).publish(submit, start, completed(job_id))
    wait_until(lambda: delivery(settings, job_id) is not None, what="the webhook's outbox row")
    return job_id


def verified(key: NewKey, hit: Hit) -> dict[str, object]:
    """The body, once its Standard Webhooks signature checked out against the key's secret."""
    payload = Webhook(key.webhook_secret).verify(hit.body, hit.headers)
    assert isinstance(payload, dict)
    return payload


def test_a_completed_job_is_announced_once_signed(
    infra: Settings, projector: subprocess.Popen[bytes], key: NewKey
) -> None:
    with receiving([200]) as receiver:
        job_id = finish_job(infra, key, receiver)
        with dispatching(infra):
            row = outcome(infra, job_id, timeout=30)
            time.sleep(3 * IDLE_S)  # a few more rounds, in which a second POST would show
        hits = receiver.to(job_id)
    # gave_up with "127.0.0.2 (loopback)" here means another dispatcher, without our allow-list, took it.
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
    assert len(hits) == 1
    hit = hits[0]
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(hit.headers)
    body = verified(key, hit)
    assert body["type"] == "job.completed"
    data = body["data"]
    assert isinstance(data, dict)
    assert data["job_id"] == job_id
    assert data["event_type"] == "completed"


def _counted(outcome: str) -> float:
    labels = {"stage": "webhooks", "outcome": outcome, "code": ""}
    return REGISTRY.get_sample_value("backdrop_messages_total", labels) or 0.0


def test_a_failed_delivery_is_retried_with_the_same_id(
    infra: Settings, projector: subprocess.Popen[bytes], key: NewKey
) -> None:
    before = {kind: _counted(kind) for kind in ("retried", "handled")}
    with receiving([500, 200]) as receiver:
        job_id = finish_job(infra, key, receiver)
        with dispatching(infra):
            # The first retry waits 4-5 s (webhook_signing.DELAYS_S, less up to 20 % jitter).
            row = outcome(infra, job_id, timeout=20)
        hits = receiver.to(job_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 2, None)
    # The dispatcher's metrics (this process's registry: it ran in a thread) counted both attempts, among
    # those of other tests' rows still due in the same outbox.
    assert all(_counted(kind) - count >= 1 for kind, count in before.items()), before
    assert len(hits) == 2
    assert hits[0].headers["webhook-id"] == hits[1].headers["webhook-id"]
    assert [verified(key, hit)["type"] for hit in hits] == ["job.completed", "job.completed"]


def test_a_refused_address_is_given_up_at_once(infra: Settings, key: NewKey) -> None:
    # The API refuses such a webhook_url (422), so the row is written as a direct Kafka submit could.
    job_id = new_job_id()
    event = completed(job_id)
    engine = create_engine(infra.postgres_dsn)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(WebhookDelivery).values(
                    job_id=job_id,
                    event_id=event.event_id,
                    url="http://127.0.0.1:9/hook",
                    owner=key.id,
                    payload=event.model_dump(mode="json"),
                )
            )
    finally:
        engine.dispose()
    with dispatching(infra):
        row = outcome(infra, job_id, timeout=10)
    assert (row["status"], row["attempts"]) == ("gave_up", 1)
    assert "127.0.0.1 (loopback)" in row["last_error"]


def test_a_slow_receiver_holds_no_lock_and_no_transaction(infra: Settings, key: NewKey) -> None:
    # The attack: the dispatcher POSTed inside the transaction that claimed the row, so a receiver that
    # answered slowly held the outbox row's lock and a database transaction for as long as it liked.
    with receiving([200], delay_s=3.0) as receiver:
        job_id = finish_job(infra, key, receiver)
        with dispatching(infra):
            wait_until(lambda: bool(receiver.to(job_id)), what="the POST to arrive")
            engine = create_engine(infra.postgres_dsn)
            try:
                with engine.begin() as conn:
                    # Fails at once (LockNotAvailable) while another transaction holds the row.
                    mine = select(WebhookDelivery.id).where(WebhookDelivery.job_id == job_id)
                    assert conn.execute(mine.with_for_update(nowait=True)).all()
                    in_flight = delivery(infra, job_id)
            finally:
                engine.dispose()
            row = outcome(infra, job_id, timeout=20)
    assert in_flight is not None
    assert in_flight["status"] == "pending", "the POST was still waiting for its answer"
    assert (row["status"], row["attempts"]) == ("delivered", 1)


def test_a_receiver_answering_a_byte_at_a_time_meets_the_deadline(infra: Settings, key: NewKey) -> None:
    # The attack: each byte came well within the read timeout, so no read ever timed out, and a receiver
    # dripping its answer held the dispatcher for as long as it liked.
    with receiving([200], drip_s=0.5) as receiver:  # the answer's 40 bytes would take 20 s
        job_id = finish_job(infra, key, receiver)
        started = time.monotonic()
        with dispatching(infra, webhook_deadline_s=2.0):
            wait_until(
                lambda: (delivery(infra, job_id) or {}).get("attempts", 0) >= 1, timeout=15, what="a try"
            )
        elapsed = time.monotonic() - started
    row = delivery(infra, job_id)
    assert row is not None
    assert row["status"] == "pending", row  # tried again later
    assert "TransferDeadline" in row["last_error"], row["last_error"]
    assert elapsed < 2.0 + 5.0


def test_a_dispatcher_killed_mid_batch_leaves_no_webhook_undelivered(
    infra: Settings, projector: subprocess.Popen[bytes], key: NewKey, api_logs: Path
) -> None:
    # A deadline of 0.5 s makes the lease 15 s (lease_seconds): what the killed one had leased and not
    # sent goes to the other dispatcher once that has passed.
    deadline_s = 0.5
    env = api_env(infra, "webhooks", BACKDROP_WEBHOOK_DEADLINE_S=str(deadline_s))
    argv = [sys.executable, "-m", "backdrop", "worker", "webhooks"]
    with receiving([200] * 20, delay_s=0.2) as receiver:
        jobs = [finish_job(infra, key, receiver) for _ in range(6)]
        first = spawn("webhooks-a", argv, api_logs / "webhooks-a.log", env=env).process
        try:
            wait_until(lambda: sum(len(receiver.to(job)) for job in jobs) >= 2, timeout=30, what="2 POSTs")
            first.kill()  # SIGKILL: the rest of its leased batch is neither sent nor released
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        assert any(status_of(infra, job) == "pending" for job in jobs), "nothing was left mid-batch"
        second = spawn("webhooks-b", argv, api_logs / "webhooks-b.log", env=env).process
        try:
            rows = [outcome(infra, job, timeout=15 + 30) for job in jobs]
        finally:
            second.terminate()
            second.wait(30)
        hits = {job: receiver.to(job) for job in jobs}
    assert [row["status"] for row in rows] == ["delivered"] * len(jobs)
    for job, received in hits.items():
        # At least once: a POST in flight at the kill may come again, always with the same webhook-id.
        assert 1 <= len(received) <= 2, (job, len(received))
        assert len({hit.headers["webhook-id"] for hit in received}) == 1
        assert verified(key, received[0])["type"] == "job.completed"
