"""Per-key rate limit in Redis: a fixed one-minute window, one round trip per request."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

WINDOW_S = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after_s: int


async def check(redis: Redis, key_id: str, limit: int, now: float | None = None) -> Verdict:
    """Count this request against the key's current window; shared by every API process."""
    moment = time.time() if now is None else now
    window = int(moment // WINDOW_S)
    name = f"backdrop:ratelimit:{key_id}:{window}"
    async with redis.pipeline(transaction=False) as pipe:
        pipe.incr(name)
        pipe.expire(name, WINDOW_S * 2)
        count, _ = await pipe.execute()
    retry_after = max(1, int((window + 1) * WINDOW_S - moment + 0.999))
    return Verdict(count <= limit, max(0, limit - count), retry_after)
