"""``backdrop worker webhooks``: deliver the webhook outbox, retrying with backoff.

The projector writes one ``webhook_deliveries`` row per job end, in the transaction that records the
end, so no end is announced twice or lost. Dispatchers claim due rows with ``FOR UPDATE SKIP LOCKED``,
so any number of them can run side by side.
"""

from __future__ import annotations

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
from schemas import LIFECYCLE_ADAPTER

log = logging.getLogger("backdrop.webhooks")
BATCH = 10
IDLE_S = 0.5


def dispatch_due(conn: Connection, client: httpx.Client, settings: Settings) -> int:
    """Try every due delivery once (up to BATCH); returns how many were tried."""
    # The table, not the ORM entity: on a Connection an entity comes back as loose columns anyway.
    due = conn.execute(
        select(WebhookDelivery.__table__, ApiKey.webhook_secret.label("key_secret"))
        .outerjoin(ApiKey, ApiKey.id == WebhookDelivery.owner)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= func.now())
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(BATCH)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    ).all()
    for delivery in due:
        secret = delivery.key_secret or (
            settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        )
        attempt = delivery.attempts + 1
        if secret is None:
            _record(conn, delivery, attempt, "gave_up", "no signing secret: set BACKDROP_WEBHOOK_SECRET")
            continue
        event: TerminalEvent = LIFECYCLE_ADAPTER.validate_python(delivery.payload)  # type: ignore[assignment]
        result = deliver(client, delivery.url, f"msg_{delivery.event_id.hex}", event, secret)
        if result.outcome == "delivered":
            _record(conn, delivery, attempt, "delivered", None)
            log.info("webhook for %s delivered to %s", delivery.job_id, delivery.url)
            continue
        delay = None if result.outcome == "stop" else next_delay(attempt, settings.webhook_max_attempts)
        if delay is None:
            _record(conn, delivery, attempt, "gave_up", result.detail)
            log.warning(
                "webhook for %s given up after %d attempts: %s", delivery.job_id, attempt, result.detail
            )
        else:
            _record(conn, delivery, attempt, "pending", result.detail, delay)
            log.info("webhook for %s: %s; retry in %.0fs", delivery.job_id, result.detail, delay)
    return len(due)


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
    engine: Engine = create_engine(settings.postgres_dsn, pool_pre_ping=True, pool_size=1)
    client = client_for(settings)
    try:
        while not stopping.is_set():
            try:
                with engine.begin() as conn:
                    tried = dispatch_due(conn, client, settings)
            except DBAPIError as exc:
                log.warning("PostgreSQL unavailable (%s); waiting", exc.orig)
                tried = 0
            if tried < BATCH:
                stopping.wait(IDLE_S)
    finally:
        client.close()
        engine.dispose()
