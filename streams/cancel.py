"""Cancelled jobs, as the API records them in Redis; stage workers skip their remaining work."""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError

from base.settings import Settings

log = logging.getLogger("backdrop.cancel")
CANCEL_KEY = "backdrop:cancelled:{job_id}"
CANCEL_TTL_S = 30 * 24 * 3600


class CancelList:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @classmethod
    def open(cls, settings: Settings) -> CancelList:
        return cls(Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0))

    def __call__(self, job_id: str) -> bool:
        """True if the job was cancelled; Redis down means no (cancelling is best effort, the work is not)."""
        try:
            return bool(self.redis.exists(CANCEL_KEY.format(job_id=job_id)))
        except RedisError as exc:
            log.warning("cannot check cancellations (%s); carrying on with job %s", exc, job_id)
            return False
