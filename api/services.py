"""What one API process holds open: database pool, Redis, a Kafka producer, the event hub, the stores."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson
import psycopg.types.json
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.keys import hash_key
from api.live import EventHub
from api.ratelimit import RateLimiter
from api.tables import ApiKey
from base.errors import InfraError
from base.settings import Settings
from schemas.models import ModelCard, served_models
from streams.s3_store import S3Store, s3_store

log = logging.getLogger("backdrop.api")
# A revoked key stops working within this many seconds in every API process.
KEY_CACHE_S = 10.0


@dataclass(frozen=True)
class Caller:
    """The API key a request authenticated with."""

    key_id: str
    rate_limit_per_minute: int


@dataclass
class KeyCache:
    """Key hash → caller, so a hot client costs no database round trip per request."""

    entries: dict[bytes, tuple[float, Caller | None]] = field(default_factory=dict)

    def get(self, key_hash: bytes, now: float) -> tuple[bool, Caller | None]:
        hit = self.entries.get(key_hash)
        if hit is None or now - hit[0] > KEY_CACHE_S:
            return False, None
        return True, hit[1]

    def put(self, key_hash: bytes, caller: Caller | None, now: float) -> None:
        if len(self.entries) > 10_000:
            self.entries.clear()
        self.entries[key_hash] = (now, caller)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    # The same pool for reads, which need no transaction: no BEGIN/ROLLBACK round trips per query.
    reader: AsyncEngine
    redis: Redis
    limiter: RateLimiter
    producer: AIOKafkaProducer
    hub: EventHub
    uploads: S3Store
    artifacts: S3Store
    # The models the segment workers serve (BACKDROP_MODELS), by name.
    models: dict[str, ModelCard] = field(default_factory=dict)
    keys: KeyCache = field(default_factory=KeyCache)
    # SSE streams open in this process, per key id (BACKDROP_SSE_STREAMS_PER_KEY caps them).
    streams: Counter[str] = field(default_factory=Counter)

    async def caller(self, secret: str) -> Caller | None:
        """The key behind a bearer token, or None for an unknown or revoked one."""
        return await self.caller_by_hash(hash_key(secret))

    async def caller_by_hash(self, key_hash: bytes) -> Caller | None:
        """The key whose secret hashes to ``key_hash`` (a browser session holds only the hash)."""
        now = time.monotonic()
        cached, caller = self.keys.get(key_hash, now)
        if cached:
            return caller
        async with self.reader.connect() as conn:
            row = (
                await conn.execute(
                    select(ApiKey.id, ApiKey.rate_limit_per_minute).where(
                        ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)
                    )
                )
            ).one_or_none()
        caller = (
            Caller(row.id, row.rate_limit_per_minute or self.settings.rate_limit_per_minute) if row else None
        )
        self.keys.put(key_hash, caller, now)
        return caller


async def open_services(settings: Settings) -> Services:
    models = served_models(settings.models)  # a wrong BACKDROP_MODELS stops the start, before any connection
    # JSONB columns parsed by orjson, not the standard library.
    psycopg.types.json.set_json_loads(orjson.loads)
    # No pre-ping (a round trip per request): a connection found dead fails one request with 503, and
    # SQLAlchemy then drops every pooled connection older than it.
    engine = create_async_engine(settings.postgres_dsn, pool_size=10, max_overflow=20)
    # A blocking pool: a burst of requests beyond its size waits for a connection instead of failing with
    # MaxConnectionsError (the default pool's answer past 100 in flight, a 500 to the client).
    pool = BlockingConnectionPool.from_url(settings.redis_url, max_connections=64, timeout=5)
    redis = Redis.from_pool(pool)
    producer = await _start_producer(settings)
    hub = EventHub(settings.postgres_dsn.replace("postgresql+psycopg://", "postgresql://"))
    await hub.start()
    return Services(
        settings,
        engine,
        engine.execution_options(isolation_level="AUTOCOMMIT"),
        redis,
        RateLimiter(redis),
        producer,
        hub,
        s3_store(settings, settings.uploads_bucket),
        s3_store(settings),
        models,
    )


async def close_services(services: Services) -> None:
    await services.hub.stop()
    await services.producer.stop()
    await services.redis.aclose()
    await services.engine.dispose()


async def _start_producer(settings: Settings) -> AIOKafkaProducer:
    deadline = time.monotonic() + settings.ready_timeout_s
    while True:
        # A producer whose start failed is closed for good: each try gets a new one.
        producer = AIOKafkaProducer(
            **settings.aiokafka_config, enable_idempotence=True, acks="all", linger_ms=0
        )
        try:
            await producer.start()
            return producer
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise InfraError(
                    f"the API cannot reach Kafka ({exc}); start it with `backdrop infra up`"
                ) from exc
            log.warning("Kafka not reachable yet (%s); retrying", exc)
            await asyncio.sleep(1.0)
