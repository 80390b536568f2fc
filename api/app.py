"""The FastAPI application: ``create_app(settings)``; ``backdrop api`` serves it with uvicorn."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from api.http_metrics import RequestMetrics
from api.routes import assets, batches, events, files, health, jobs, models, session, uploads, web
from api.services import close_services, open_services
from api.submission import IdempotencyConflict, Unavailable
from base import __version__
from base.errors import BackdropError
from base.settings import Settings
from streams.errors import RetryableError
from streams.telemetry import instrument_engine, instrument_redis, traced

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

DESCRIPTION = """
Replace the background of videos. Upload a file (`POST /v1/uploads`, or a presigned PUT from
`POST /v1/uploads/presign`) or point at one (`POST /v1/jobs`), then follow the job live
(`GET /v1/jobs/{id}/events`, Server-Sent Events, resumable with `Last-Event-ID`) or poll
`GET /v1/jobs/{id}`. Every request needs `Authorization: Bearer <key>` (`backdrop keys create NAME`), or
the session cookie of the web app at `/` (`POST /v1/session`).
"""

JSON_BODY_LIMIT = 1 << 20
SSE_CLIENTS = Gauge("backdrop_sse_subscribers", "SSE streams following live events in this process")


def create_app(settings: Settings, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """The app; with ``tracer_provider`` each request is a span (server spans from the FastAPI
    instrumentation), parent of its database, Redis and Kafka spans."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await open_services(settings)
        instrument_engine(tracer_provider, services.engine)
        app.state.services = services
        SSE_CLIENTS.set_function(lambda: services.hub.subscriber_count)
        # Everything loaded so far lives as long as the process: keep the collector from rescanning it,
        # which otherwise shows up as multi-millisecond pauses in the latency tail.
        gc.freeze()
        try:
            yield
        finally:
            await close_services(services)

    app = FastAPI(
        title="Backdrop",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        max_body_size=JSON_BODY_LIMIT,
    )
    for module in (jobs, files, events, batches, models, session, health):
        app.include_router(module.router)
    # Uploads may be large; the limit is checked while the body streams in (413 past it).
    app.include_router(uploads.router, max_body_size=settings.upload_max_bytes + uploads.FORM_OVERHEAD)
    app.include_router(assets.router, max_body_size=settings.upload_max_bytes + uploads.FORM_OVERHEAD)
    web.mount(app)

    @app.exception_handler(RetryableError)
    @app.exception_handler(Unavailable)
    @app.exception_handler(RedisError)
    @app.exception_handler(OperationalError)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Kafka, S3, Redis (rate limits, cached reads) or PostgreSQL restarting or out of reach: worth a
        # retry, not a 500.
        if isinstance(exc, BackdropError):
            detail = exc.message
        else:
            service = "Redis" if isinstance(exc, RedisError) else "the database"
            detail = f"{service} is unavailable; retry shortly"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(IdempotencyConflict)
    async def idempotency_conflict(request: Request, exc: IdempotencyConflict) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=422)

    app.add_middleware(RequestMetrics, excluded=frozenset({"/metrics", "/healthz"}))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    if tracer_provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # Probes and scrapes every few seconds would bury the requests that matter; so would a span per
        # ASGI message (an upload's body arrives in dozens).
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=tracer_provider,
            excluded_urls="/metrics,/healthz,/readyz",
            exclude_spans=["receive", "send"],
        )
    return app


def serve(
    settings: Settings, *, host: str | None = None, port: int | None = None, log_level: str = "warning"
) -> None:
    """``backdrop api``: apply pending migrations, then serve until SIGTERM."""
    import uvicorn

    from api.migrate import upgrade

    upgrade(settings)
    with traced("api") as provider:
        instrument_redis(provider)
        uvicorn.run(
            create_app(settings, provider),
            host=host or settings.api_host,
            port=port or settings.api_port,
            log_level=log_level,
            # The event loop and the HTTP parser in C: the latency floors of `backdrop bench --api` need
            # both.
            loop="uvloop",
            http="httptools",
            timeout_graceful_shutdown=5,
        )
