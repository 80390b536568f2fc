"""Rate limits in Redis, per key and per client address: a fixed one-minute window, one round trip."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

WINDOW_S = 60
# One round trip: count the request, and give a new window its expiry.
_COUNT = (
    "local c = redis.call('INCR', KEYS[1]) if c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return c"
)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after_s: int


async def check(redis: Redis, key_id: str, limit: int, now: float | None = None) -> Verdict:
    """Count this request against the current window of ``key_id`` (a key, or ``address:<ip>`` for
    requests without a valid key); shared by every API process."""
    moment = time.time() if now is None else now
    window = int(moment // WINDOW_S)
    name = f"backdrop:ratelimit:{key_id}:{window}"
    count = int(await redis.eval(_COUNT, 1, name, WINDOW_S * 2))
    retry_after = max(1, int((window + 1) * WINDOW_S - moment + 0.999))
    return Verdict(count <= limit, max(0, limit - count), retry_after)
