"""Recent ``GET /v1/jobs/{id}`` answers, kept until the job's next event is announced (or briefly).

A polled job is read far more often than it changes, and every change reaches this process as a
notification (api.live.EventHub), which drops the job's entry. A read that raced with a change is not
kept: each entry records the invalidation count when its read began. The TTL is a backstop for the few
changes that are not lifecycle events (a submit's details filled in by the projector).
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from dataclasses import dataclass

# Long, because changes arrive as notifications; spread, so entries made together do not all expire in one
# burst of database reads (which showed up as the latency tail of `backdrop bench --api`).
TTL_S = 30.0
MAX_ENTRIES = 10_000
# Invalidation marks remembered per job; older marks fall out, which only costs a skipped put.
MAX_MARKS = 100_000


@dataclass(frozen=True)
class _Entry:
    expires: float
    owner: str
    body: bytes


class JobCache:
    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self.generation = 0
        self._cleared_at = -1
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._marks: OrderedDict[str, int] = OrderedDict()

    def get(self, job_id: str, owner: str, now: float | None = None) -> bytes | None:
        entry = self._entries.get(job_id)
        if entry is None or entry.owner != owner:
            return None
        if (time.monotonic() if now is None else now) > entry.expires:
            del self._entries[job_id]
            return None
        return entry.body

    def put(self, job_id: str, owner: str, body: bytes, read_began: int, now: float | None = None) -> None:
        """Keep ``body`` unless the job changed (or all was cleared) since generation ``read_began``."""
        if self._cleared_at > read_began or self._marks.get(job_id, -1) > read_began:
            return
        lifetime = self.ttl_s * (0.5 + 0.5 * random.random())  # noqa: S311 -- spreading, not secrecy
        self._entries[job_id] = _Entry((time.monotonic() if now is None else now) + lifetime, owner, body)
        self._entries.move_to_end(job_id)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def invalidate(self, job_id: str) -> None:
        self.generation += 1
        self._entries.pop(job_id, None)
        self._marks[job_id] = self.generation
        self._marks.move_to_end(job_id)
        while len(self._marks) > MAX_MARKS:
            self._marks.popitem(last=False)

    def clear(self) -> None:
        """Everything may have changed (the listener reconnected): forget it all."""
        self.generation += 1
        self._cleared_at = self.generation
        self._entries.clear()
