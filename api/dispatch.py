"""``backdrop worker webhooks``: deliver the webhook outbox, retrying with backoff.

The projector writes one ``webhook_deliveries`` row per job end, in the transaction that records the
end, so no end is announced twice or lost. A dispatcher leases due rows in a short transaction
(``FOR UPDATE SKIP LOCKED``, then ``next_attempt_at`` moved past the lease), POSTs with no transaction
open and no row locked, and records each outcome in a transaction of its own. Any number of dispatchers
can run side by side; a dispatcher that dies mid-POST leaves its rows due again once the lease ends
(the receiver may see that delivery twice, with the same ``webhook-id``).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, Row, create_engine, func, select, update
from sqlalchemy.exc import DBAPIError

from api.tables import ApiKey, WebhookDelivery
from api.webhook_signing import TerminalEvent, deliver, next_delay
from base.guarded_http import client_for
from base.settings import Settings
from base.ssrf import describe_url
from schemas import LIFECYCLE_ADAPTER
from streams.metrics import WorkerMetrics, served

log = logging.getLogger("backdrop.webhooks")
BATCH = 10
IDLE_S = 0.5
# Beyond a batch's POSTs, time to record their outcomes.
LEASE_MARGIN_S = 10.0


def lease_seconds(settings: Settings) -> float:
    """How long leased rows stay with one dispatcher: longer than its POSTs of one batch can take. A
    dispatcher killed mid-batch leaves the rest of its batch to another once this has passed."""
    return BATCH * settings.webhook_deadline_s + LEASE_MARGIN_S


def lease_due(conn: Connection, lease_s: float) -> list[Row[Any]]:
    """Up to BATCH due deliveries, each with its key's secret, leased to this dispatcher for ``lease_s``."""
    # The table, not the ORM entity: on a Connection an entity comes back as loose columns anyway.
    due = conn.execute(
        select(WebhookDelivery.__table__, ApiKey.webhook_secret.label("key_secret"))
        .outerjoin(ApiKey, ApiKey.id == WebhookDelivery.owner)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= func.now())
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(BATCH)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    ).all()
    if due:
        conn.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([row.id for row in due]))
            .values(next_attempt_at=func.now() + timedelta(seconds=lease_s))
        )
    return list(due)


def dispatch_due(
    engine: Engine, client: httpx.Client, settings: Settings, metrics: WorkerMetrics | None = None
) -> int:
    """Try every due delivery once (up to BATCH); returns how many were tried."""
    with engine.begin() as conn:
        due = lease_due(conn, lease_seconds(settings))
    for delivery in due:
        with metrics.handling() if metrics is not None else contextlib.nullcontext():
            outcome = _attempt(delivery, client, settings)
        with engine.begin() as conn:
            _record(conn, delivery, *outcome)
        if metrics is not None:
            metrics.outcome(_COUNTED_AS[outcome[1]])
    return len(due)


# A delivery's new status → the outcome its attempt counts as.
_COUNTED_AS = {"delivered": "handled", "pending": "retried", "gave_up": "failed"}


def _attempt(
    delivery: Row[Any], client: httpx.Client, settings: Settings
) -> tuple[int, str, str | None, float]:
    """One POST, outside any transaction: (attempt, new status, error, delay before the next)."""
    secret = delivery.key_secret or (
        settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    )
    attempt = delivery.attempts + 1
    if secret is None:
        return attempt, "gave_up", "no signing secret: set BACKDROP_WEBHOOK_SECRET", 0.0
    event: TerminalEvent = LIFECYCLE_ADAPTER.validate_python(delivery.payload)  # type: ignore[assignment]
    result = deliver(
        client,
        delivery.url,
        f"msg_{delivery.event_id.hex}",
        event,
        secret,
        deadline_s=settings.webhook_deadline_s,
    )
    if result.outcome == "delivered":
        log.info("webhook for %s delivered to %s", delivery.job_id, describe_url(delivery.url))
        return attempt, "delivered", None, 0.0
    delay = None if result.outcome == "stop" else next_delay(attempt, settings.webhook_max_attempts)
    if delay is None:
        log.warning("webhook for %s given up after %d attempts: %s", delivery.job_id, attempt, result.detail)
        return attempt, "gave_up", result.detail, 0.0
    log.info("webhook for %s: %s; retry in %.0fs", delivery.job_id, result.detail, delay)
    return attempt, "pending", result.detail, delay


def _record(
    conn: Connection,
    delivery: Row[Any],
    attempt: int,
    status: str,
    error: str | None,
    delay_s: float = 0.0,
) -> None:
    now = datetime.now(UTC)
    conn.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(
            status=status,
            attempts=attempt,
            last_error=error,
            next_attempt_at=now + timedelta(seconds=delay_s),
            delivered_at=now if status == "delivered" else None,
        )
    )


def run_dispatcher(settings: Settings, stop: threading.Event | None = None) -> None:
    """Until SIGTERM/SIGINT (or ``stop``): deliver what is due, then wait a moment."""
    stopping = stop or threading.Event()
    if stop is None:

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    engine: Engine = create_engine(settings.postgres_dsn, pool_pre_ping=True, pool_size=2)
    client = client_for(settings)
    try:
        with served("webhooks", settings) as metrics:
            while not stopping.is_set():
                try:
                    tried = dispatch_due(engine, client, settings, metrics)
                except DBAPIError as exc:
                    log.warning("PostgreSQL unavailable (%s); waiting", exc.orig)
                    tried = 0
                if tried < BATCH:
                    stopping.wait(IDLE_S)
    finally:
        client.close()
        engine.dispose()
