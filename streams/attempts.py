"""How often a message was tried, counted outside the worker, so a message that kills its worker (out of
memory, a segfault in a codec) is given up after a few deaths instead of crash-looping its partition."""

from __future__ import annotations

import logging
import time

from confluent_kafka import Message
from redis import Redis
from redis.exceptions import RedisError

from base.errors import BackdropError
from base.settings import Settings

log = logging.getLogger("backdrop.attempts")
# Long enough to outlive any restart loop, short enough that the keys clean themselves up.
ATTEMPTS_TTL_S = 24 * 3600
# After Redis failed to answer, messages go uncounted (not delayed by a timeout each) for this long.
RETRY_REDIS_AFTER_S = 30.0


class WorkerDied(BackdropError):
    """The message was taken up again and again by workers that died before finishing it."""

    code = "worker_died"


class AttemptLedger:
    """Attempt counts per (consumer group, topic, partition, offset) in Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._quiet_until = 0.0

    @classmethod
    def open(cls, settings: Settings) -> AttemptLedger:
        return cls(Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0))

    def begin(self, group: str, message: Message) -> int | None:
        """Count one more attempt at ``message``; the count so far including this one (None: Redis is away,
        and only the attempts of this process count)."""
        if time.monotonic() < self._quiet_until:
            return None
        key = _key(group, message)
        try:
            with self.redis.pipeline() as pipe:
                pipe.incr(key)
                pipe.expire(key, ATTEMPTS_TTL_S)
                count, _ = pipe.execute()
        except RedisError as exc:
            log.warning("cannot count attempts (%s); counting this process's only for a while", exc)
            self._quiet_until = time.monotonic() + RETRY_REDIS_AFTER_S
            return None
        return int(count)

    def done(self, group: str, message: Message) -> None:
        """The message is settled (handled, failed or dead-lettered): forget its count."""
        if time.monotonic() < self._quiet_until:
            return
        try:
            self.redis.delete(_key(group, message))
        except RedisError as exc:
            log.warning("cannot clear an attempt count (%s); it expires in a day", exc)


def _key(group: str, message: Message) -> str:
    return f"backdrop:attempts:{group}:{message.topic()}:{message.partition()}:{message.offset()}"
