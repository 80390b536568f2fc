"""Rate limits in Redis, per key and per client address: a fixed one-minute window shared by every API
process, counted in Redis at once near the limit and in batches far below it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

WINDOW_S = 60
# One round trip: add to the count, and give a new window its expiry.
_ADD = (
    "local c = redis.call('INCRBY', KEYS[1], ARGV[2]) "
    "if c == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return c"
)
# How long a count far below its limit may be kept in this process before it is added to Redis.
SYNC_EVERY_S = 0.05


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after_s: int


@dataclass
class _Window:
    shared: int  # the count in Redis when this process last added to it
    pending: int  # counted here since, not yet added
    synced_at: float


class RateLimiter:
    """Counts each request against the current window of its key (or ``address:<ip>``) in Redis.

    A round trip per request was a fifth of the API's CPU for a cached GET. So a key whose count is far
    below its limit is counted here and added to Redis in one INCRBY at most every ``sync_every_s``;
    within ``margin`` of the limit (a tenth of it, at least 10) every request is counted in Redis at once,
    and that count decides. The cost: several API processes can together admit, past the limit, what the
    others counted in their last ``sync_every_s`` beyond the margin. A process that dies loses at most
    that much of its count, which only errs towards admitting.
    """

    def __init__(self, redis: Redis, sync_every_s: float = SYNC_EVERY_S) -> None:
        self.redis, self.sync_every_s = redis, sync_every_s
        self._windows: dict[str, _Window] = {}
        self._window = -1

    async def check(self, key_id: str, limit: int, now: float | None = None) -> Verdict:
        moment = time.time() if now is None else now
        window = int(moment // WINDOW_S)
        if window != self._window:  # past windows' counts are of no more use here
            self._windows, self._window = {}, window
        retry_after = max(1, int((window + 1) * WINDOW_S - moment + 0.999))
        held = self._windows.get(key_id)
        margin = max(10, limit // 10)
        if (
            held is not None
            and moment - held.synced_at < self.sync_every_s
            and held.shared + held.pending + 1 < limit - margin
        ):
            held.pending += 1
            count = held.shared + held.pending
        else:
            count = await self._add(key_id, window, held, moment)
        return Verdict(count <= limit, max(0, limit - count), retry_after)

    async def _add(self, key_id: str, window: int, held: _Window | None, moment: float) -> int:
        """Add this request and what is pending to Redis; the key's count there, this request included."""
        adding = 1 + (held.pending if held is not None else 0)
        if held is not None:  # requests arriving while this one waits for Redis count from here on
            held.pending, held.synced_at = 0, moment
        try:
            count = int(
                await self.redis.eval(_ADD, 1, f"backdrop:ratelimit:{key_id}:{window}", WINDOW_S * 2, adding)
            )
        except BaseException:
            if held is not None:
                held.pending += adding - 1  # still to be added; this request was not served
            raise
        if window == self._window:
            current = self._windows.setdefault(key_id, _Window(count, 0, moment))
            current.shared, current.synced_at = max(current.shared, count), moment
        return count
