"""Stopped jobs: a marker object beside the job's objects; stage workers skip the rest of its work.

A job stops when it is cancelled (the API writes the marker) or when it ends, completed or failed (the
janitor writes it, so the chunks still in flight of a failed job are dropped instead of finished, and a
late redelivery does not make again what the janitor deleted). The marker lives in the object store,
which keeps what it is given, so a stop outlives restarts of every server (Redis runs without
persistence and is no place for it).
"""

from __future__ import annotations

import logging

from base.settings import Settings
from streams.errors import RetryableError, StoreRefused
from streams.s3_store import s3_store
from streams.store import ObjectStore, check_key, job_prefix

log = logging.getLogger("backdrop.stopped")


def stop_key(job_id: str) -> str:
    """The marker; its content says why the job stopped."""
    return check_key(f"{job_prefix(job_id)}stopped")


class StoppedJobs:
    """``stopped(job_id)``: whether the job's remaining work is to be skipped."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._known: set[str] = set()  # a stop is never taken back: remember it

    @classmethod
    def open(cls, settings: Settings) -> StoppedJobs:
        return cls(s3_store(settings))

    def __call__(self, job_id: str) -> bool:
        """True if the job has stopped; a store that cannot answer means no (the work itself will need
        the store, and retries until it is back)."""
        if job_id in self._known:
            return True
        try:
            stopped = self.store.exists(stop_key(job_id))
        except (RetryableError, StoreRefused) as exc:
            log.warning("cannot check for stopped jobs (%s); carrying on with job %s", exc, job_id)
            return False
        if stopped:
            self._known.add(job_id)
        return stopped
