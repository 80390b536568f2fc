"""Live job events for SSE: one LISTEN connection per API process, fanned out to its subscribers.

The projector announces each new ``job_events`` row with ``pg_notify`` in the row's own transaction,
so a notification always refers to a committed, readable row. Subscribers get the announced event, or
``RESYNC`` when the listener lost its connection (notifications may have been missed): they then read
the table after the last id they sent. Either way the table stays the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

import orjson
import psycopg

from api.jobcache import JobCache
from api.projection import NOTIFY_CHANNEL

log = logging.getLogger("backdrop.api.live")


@dataclass(frozen=True)
class Announced:
    id: int
    job_id: str
    event_type: str
    data: dict[str, Any] | None  # None when the event was too big to announce: read it from the table


class _Resync:
    pass


RESYNC: Final = _Resync()
Update = Announced | _Resync
# A subscriber this far behind is told to resync instead of buffering more.
QUEUE_LIMIT = 256


class EventHub:
    """Fans notifications out to per-job subscriber queues; reconnects with backoff."""

    def __init__(self, dsn: str, jobs: JobCache | None = None) -> None:
        self.dsn = dsn
        # Cached job answers, dropped as their jobs change.
        self.jobs = jobs or JobCache()
        self.subscribers: defaultdict[str, set[asyncio.Queue[Update]]] = defaultdict(set)
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def subscriber_count(self) -> int:
        return sum(len(queues) for queues in self.subscribers.values())

    def subscribe(self, job_id: str, queue: asyncio.Queue[Update] | None = None) -> asyncio.Queue[Update]:
        """A queue of the job's updates; pass one already subscribed to follow several jobs in it."""
        queue = queue if queue is not None else asyncio.Queue(QUEUE_LIMIT)
        self.subscribers[job_id].add(queue)
        return queue

    def unsubscribe(self, job_id: str, queue: asyncio.Queue[Update]) -> None:
        queues = self.subscribers.get(job_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self.subscribers[job_id]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="backdrop-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def dispatch(self, payload: str) -> None:
        """Hand one notification to the job's subscribers."""
        try:
            note = orjson.loads(payload)
            job_id = note["job_id"]
            update = Announced(note["id"], job_id, note["event_type"], note.get("data"))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a malformed notification on %s: %.200s", NOTIFY_CHANNEL, payload)
            return
        self.jobs.invalidate(job_id)
        for queue in tuple(self.subscribers.get(job_id, ())):
            _offer(queue, update)

    def _resync_all(self) -> None:
        self.jobs.clear()
        for queues in tuple(self.subscribers.values()):
            for queue in tuple(queues):
                _offer(queue, RESYNC)

    async def _listen_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.connected.set()
                    # Whatever happened while we were away is in the table: everyone reads it again.
                    self._resync_all()
                    delay = 0.2
                    async for notify in conn.notifies():
                        self.dispatch(notify.payload)
            except psycopg.Error as exc:
                log.warning("event listener lost PostgreSQL (%s); reconnecting in %.1fs", exc, delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _offer(queue: asyncio.Queue[Update], update: Update) -> None:
    try:
        queue.put_nowait(update)
    except asyncio.QueueFull:
        # A slow client: drop what is queued and make it read the table instead.
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(RESYNC)
