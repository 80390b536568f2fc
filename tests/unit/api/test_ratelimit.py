"""The per-key rate limit's arithmetic, against an in-memory stand-in for Redis running its script."""

from __future__ import annotations

import asyncio
from typing import cast

from redis.asyncio import Redis

from api.ratelimit import WINDOW_S, Verdict, check


class FakeRedis:
    """Runs ``check``'s script the way Redis would: INCR, and EXPIRE on a window's first request."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.ttls: dict[str, int] = {}

    async def eval(self, script: str, numkeys: int, name: str, ttl: int) -> int:
        assert numkeys == 1
        assert "INCR" in script
        self.counts[name] = self.counts.get(name, 0) + 1
        if self.counts[name] == 1:
            self.ttls[name] = ttl
        return self.counts[name]


def _checks(redis: FakeRedis, key_id: str, limit: int, times: list[float]) -> list[Verdict]:
    async def run() -> list[Verdict]:
        return [await check(cast(Redis, redis), key_id, limit, now=moment) for moment in times]

    return asyncio.run(run())


def test_the_limit_allows_then_refuses_until_the_window_ends() -> None:
    start = 100 * WINDOW_S + 20.5
    verdicts = _checks(FakeRedis(), "key_a", 3, [start, start + 1, start + 2, start + 3])
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    assert verdicts[-1].retry_after_s == WINDOW_S - 23  # 36.5 s left, rounded up


def test_a_new_window_and_another_key_start_afresh() -> None:
    redis = FakeRedis()
    start = 7 * WINDOW_S
    assert not _checks(redis, "key_a", 1, [start, start + 1])[-1].allowed
    assert _checks(redis, "key_b", 1, [start + 2])[0].allowed
    assert _checks(redis, "key_a", 1, [start + WINDOW_S])[0].allowed
    # Every window's counter expires on its own, after the window is surely over.
    assert set(redis.ttls.values()) == {2 * WINDOW_S}
    assert len(redis.ttls) == 3


def test_retry_after_is_at_least_a_second() -> None:
    end = 9 * WINDOW_S - 0.0001
    assert _checks(FakeRedis(), "key_a", 0, [end])[0].retry_after_s == 1
