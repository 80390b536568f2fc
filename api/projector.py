"""``backdrop worker projector``: ``backdrop.jobs`` (and submits on ``backdrop.uploads``) → PostgreSQL.

It runs in the stage workers' loop (streams.worker.Worker): the offset is committed only after the
event's transaction commits, and the projection is idempotent by event id, so a crash or a replay of the
topic changes nothing. While PostgreSQL is down it retries in place and catches up when it returns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError

from api.projection import project_event, project_submit
from backdrop.settings import Settings
from schemas import LIFECYCLE_ADAPTER, SUBMIT_ADAPTER, SubmitJob
from streams.codec import decode
from streams.errors import PoisonMessage, RetryableError
from streams.topics import JOBS, UPLOADS
from streams.worker import Handled


def projection_engine(settings: Settings) -> Engine:
    return create_engine(settings.postgres_dsn, pool_pre_ping=True, pool_size=2)


class ProjectorHandler:
    stage = "projector"
    topics = (JOBS.name, UPLOADS.name)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def decode(self, topic: str, value: bytes | None) -> Any:
        if topic == UPLOADS.name:
            try:
                return decode(value, SUBMIT_ADAPTER)
            except PoisonMessage:
                return None  # the extract stage dead-letters bad submits; one copy is enough
        return decode(value, LIFECYCLE_ADAPTER)

    def handle(self, event: Any) -> Handled:
        if event is None:
            return Handled()
        try:
            with self.engine.begin() as conn:
                if isinstance(event, SubmitJob):
                    project_submit(conn, event)
                else:
                    project_event(conn, event)
        except DBAPIError as exc:
            if exc.connection_invalidated or _is_unavailable(exc):
                raise RetryableError(f"PostgreSQL is unavailable ({exc.orig}); retrying") from exc
            raise
        return Handled()


def _is_unavailable(exc: DBAPIError) -> bool:
    """Connection refused, server shutting down, too many clients: transient, worth waiting for."""
    import psycopg

    return isinstance(exc.orig, psycopg.OperationalError)
