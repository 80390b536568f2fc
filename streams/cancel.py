"""Cancelled jobs: the API leaves a marker object beside the job's objects; stage workers skip the rest.

The marker lives in the object store, which keeps what it is given, so a cancel outlives restarts of
every server (Redis runs without persistence and is no place for it).
"""

from __future__ import annotations

import logging

from base.settings import Settings
from streams.errors import RetryableError, StoreRefused
from streams.s3_store import s3_store
from streams.store import ObjectStore, job_prefix

log = logging.getLogger("backdrop.cancel")


def cancel_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}cancelled"


class CancelList:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._known: set[str] = set()  # a cancel is never taken back: remember it

    @classmethod
    def open(cls, settings: Settings) -> CancelList:
        return cls(s3_store(settings))

    def __call__(self, job_id: str) -> bool:
        """True if the job was cancelled; a store that cannot answer means no (the work itself will need
        the store, and retries until it is back)."""
        if job_id in self._known:
            return True
        try:
            cancelled = self.store.exists(cancel_key(job_id))
        except (RetryableError, StoreRefused) as exc:
            log.warning("cannot check cancellations (%s); carrying on with job %s", exc, job_id)
            return False
        if cancelled:
            self._known.add(job_id)
        return cancelled
