"""The per-key rate limit's arithmetic, against an in-memory stand-in for Redis running its script."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from redis.asyncio import Redis

from api.ratelimit import WINDOW_S, RateLimiter, Verdict


class FakeRedis:
    """Runs the limiter's script the way Redis would: INCRBY, and EXPIRE on a window's first count."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.ttls: dict[str, int] = {}
        self.calls = 0

    async def eval(self, script: str, numkeys: int, name: str, ttl: int, adding: int) -> int:
        assert numkeys == 1
        assert "INCRBY" in script
        self.calls += 1
        self.counts[name] = self.counts.get(name, 0) + adding
        if self.counts[name] == adding:
            self.ttls[name] = ttl
        return self.counts[name]


def _checks(limiter: RateLimiter, key_id: str, limit: int, times: list[float]) -> list[Verdict]:
    async def run() -> list[Verdict]:
        return [await limiter.check(key_id, limit, now=moment) for moment in times]

    return asyncio.run(run())


def limiter(redis: FakeRedis) -> RateLimiter:
    return RateLimiter(cast(Redis, redis), sync_every_s=0.05)


def test_the_limit_allows_then_refuses_until_the_window_ends() -> None:
    start = 100 * WINDOW_S + 20.5
    verdicts = _checks(limiter(FakeRedis()), "key_a", 3, [start, start + 1, start + 2, start + 3])
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    assert verdicts[-1].retry_after_s == WINDOW_S - 23  # 36.5 s left, rounded up


def test_a_new_window_and_another_key_start_afresh() -> None:
    redis = FakeRedis()
    shared = limiter(redis)
    start = 7 * WINDOW_S
    assert not _checks(shared, "key_a", 1, [start, start + 1])[-1].allowed
    assert _checks(shared, "key_b", 1, [start + 2])[0].allowed
    assert _checks(shared, "key_a", 1, [start + WINDOW_S])[0].allowed
    # Every window's counter expires on its own, after the window is surely over.
    assert set(redis.ttls.values()) == {2 * WINDOW_S}
    assert len(redis.ttls) == 3


def test_retry_after_is_at_least_a_second() -> None:
    end = 9 * WINDOW_S - 0.0001
    assert _checks(limiter(FakeRedis()), "key_a", 0, [end])[0].retry_after_s == 1


def test_far_below_the_limit_requests_are_counted_in_batches_and_none_is_lost() -> None:
    redis = FakeRedis()
    start = 3 * WINDOW_S
    times = [start + i * 0.001 for i in range(1000)]  # 1,000 requests in a second
    counting = limiter(redis)
    verdicts = _checks(counting, "key_a", 100_000, times)
    assert all(v.allowed for v in verdicts)
    assert redis.calls <= 1 + 1000 * 0.001 / 0.05  # a round trip per 50 ms, not per request
    assert [v.remaining for v in verdicts] == sorted((v.remaining for v in verdicts), reverse=True)
    _checks(counting, "key_a", 100_000, [start + 2])  # the next round trip adds what was pending
    assert sum(redis.counts.values()) == 1001


def test_near_the_limit_every_request_is_counted_in_redis_and_the_limit_holds_across_processes() -> None:
    redis = FakeRedis()
    processes = [limiter(redis) for _ in range(3)]
    start = 5 * WINDOW_S
    allowed = 0
    for i in range(300):  # three processes taking turns, 1,000 requests/s against a limit of 100
        allowed += _checks(processes[i % 3], "key_a", 100, [start + i * 0.001])[0].allowed
    # Past the limit, at most what the two others counted in one 50 ms interval (2 x 17) may pass.
    assert 100 <= allowed <= 100 + 2 * 17, allowed
    later = [_checks(p, "key_a", 100, [start + 0.5])[0].allowed for p in processes]
    assert later == [False] * 3


def test_a_failed_round_trip_keeps_the_pending_count() -> None:
    class Down(FakeRedis):
        async def eval(self, script: str, numkeys: int, name: str, ttl: int, adding: int) -> int:
            raise ConnectionError("Redis is down")

    redis = FakeRedis()
    shared = limiter(redis)
    start = 11 * WINDOW_S
    _checks(shared, "key_a", 100_000, [start + i * 0.001 for i in range(10)])
    shared.redis = cast(Redis, Down())
    with pytest.raises(ConnectionError):
        _checks(shared, "key_a", 100_000, [start + 0.1])
    shared.redis = cast(Redis, redis)
    _checks(shared, "key_a", 100_000, [start + 0.2])
    assert sum(redis.counts.values()) == 11  # the 10 before, and this one; not the one that failed
