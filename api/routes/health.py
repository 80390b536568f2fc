"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.deps import ServicesDep
from api.services import Services

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 2.0


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable with the failing checks.", examples=["ok"])
    checks: dict[str, str] = Field(
        default_factory=dict,
        description="Each dependency: ok or why not.",
        examples=[{"postgres": "ok", "redis": "ok", "kafka": "ok"}],
    )


@router.get("/healthz", summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


async def _postgres(svc: Services) -> None:
    async with svc.reader.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _redis(svc: Services) -> None:
    await svc.redis.ping()


async def _kafka(svc: Services) -> None:
    await svc.producer.client.fetch_all_metadata()


async def _live_events(svc: Services) -> None:
    if not svc.hub.connected.is_set():
        raise ConnectionError("the event listener is reconnecting to PostgreSQL")


@router.get(
    "/readyz",
    summary="PostgreSQL, Redis and Kafka answer",
    responses={503: {"model": Health, "description": "A dependency is down."}},
)
async def readyz(svc: ServicesDep, response: Response) -> Health:
    checks: dict[str, str] = {}
    for name, probe in (
        ("postgres", _postgres),
        ("redis", _redis),
        ("kafka", _kafka),
        ("live_events", _live_events),
    ):
        try:
            await asyncio.wait_for(probe(svc), CHECK_TIMEOUT_S)
            checks[name] = "ok"
        except Exception as exc:  # any failure of a probe means "not ready"; the reason is reported
            checks[name] = f"{type(exc).__name__}: {exc}"[:200]
    if all(value == "ok" for value in checks.values()):
        return Health(status="ok", checks=checks)
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="unavailable", checks=checks)
