"""How fast a committed event reaches a listener: PostgreSQL NOTIFY (what the API uses) vs Redis pub/sub.

Each round inserts a row and commits; with NOTIFY the announcement rides in the same transaction, with
Redis it is a PUBLISH after the commit (the only safe order: a listener must find the row it hears of).
The latency is commit start → the listener has the message, on this machine's loopback.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
from redis.asyncio import Redis

from base.settings import Settings

CHANNEL = "backdrop_bench_live"


@dataclass(frozen=True)
class TransportLatency:
    transport: str
    rounds: int
    p50_ms: float
    p99_ms: float


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[round(fraction * (len(ordered) - 1))]


def _summary(transport: str, samples: list[float]) -> TransportLatency:
    return TransportLatency(
        transport, len(samples), round(statistics.median(samples), 3), round(_percentile(samples, 0.99), 3)
    )


async def _writer(dsn: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    conn = await psycopg.AsyncConnection.connect(dsn)
    await conn.execute("CREATE TEMP TABLE bench_live (id bigserial PRIMARY KEY, body text)")
    await conn.commit()
    return conn


async def _pg_notify(dsn: str, rounds: int) -> list[float]:
    listener = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    writer = await _writer(dsn)
    samples = []
    try:
        await listener.execute(f"LISTEN {CHANNEL}")
        notes: AsyncIterator[psycopg.Notify] = listener.notifies()
        for _ in range(rounds):
            started = time.perf_counter()
            await writer.execute("INSERT INTO bench_live (body) VALUES ('x')")
            await writer.execute("SELECT pg_notify(%s, 'x')", (CHANNEL,))
            await writer.commit()
            await anext(notes)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await writer.close()
        await listener.close()
    return samples


async def _redis_publish(dsn: str, redis_url: str, rounds: int) -> list[float]:
    redis = Redis.from_url(redis_url)
    subscription = redis.pubsub()
    writer = await _writer(dsn)
    samples = []
    try:
        await subscription.subscribe(CHANNEL)
        await subscription.get_message(timeout=1.0)  # the subscribe confirmation
        for _ in range(rounds):
            started = time.perf_counter()
            await writer.execute("INSERT INTO bench_live (body) VALUES ('x')")
            await writer.commit()
            await redis.publish(CHANNEL, "x")
            while (message := await subscription.get_message(timeout=5.0)) is None or message[
                "type"
            ] != "message":
                pass
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await subscription.unsubscribe(CHANNEL)
        await redis.aclose()
        await writer.close()
    return samples


def measure_live_transports(settings: Settings, rounds: int = 500) -> list[TransportLatency]:
    """Both transports, one after the other, against the configured PostgreSQL and Redis."""
    dsn = settings.postgres_dsn.replace("postgresql+psycopg://", "postgresql://")
    return [
        _summary("postgres_notify", asyncio.run(_pg_notify(dsn, rounds))),
        _summary("redis_publish", asyncio.run(_redis_publish(dsn, settings.redis_url, rounds))),
    ]
