"""Which Kafka offsets the projector may commit: those whose PostgreSQL transactions are on disk.

The projector commits with ``synchronous_commit`` off, so its NOTIFY (and the SSE update behind it) goes
out at commit instead of after the WAL fsync, which on a busy disk can take hundreds of milliseconds.
A PostgreSQL crash can then lose the last transactions, so the Kafka offsets trail the WAL flush: after a
crash the projector reads those events again. A batch's offsets are released once the flush position has
passed an insert position read after the batch committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Partition = tuple[str, int]


@dataclass(frozen=True)
class _Mark:
    """An insert position and what had been applied (committed in PostgreSQL) before it was read."""

    lsn: int
    offsets: dict[Partition, int]
    events: int


class DurableOffsets:
    """Offsets applied to PostgreSQL, and the part of them that is flushed and may be committed."""

    def __init__(self) -> None:
        self.applied: dict[Partition, int] = {}
        self.released: dict[Partition, int] = {}
        self._events = 0
        self._released_events = 0
        self._mark: _Mark | None = None

    @property
    def unflushed(self) -> int:
        """Events applied whose transactions may not be on disk yet."""
        return self._events - self._released_events

    def applied_batch(self, positions: Iterable[tuple[str, int, int]]) -> None:
        """Record a committed transaction's messages as (topic, partition, offset)."""
        for topic, partition, offset in positions:
            key = (topic, partition)
            self.applied[key] = max(self.applied.get(key, 0), offset + 1)
            self._events += 1

    def release(self, insert_lsn: int, flush_lsn: int) -> dict[Partition, int]:
        """The offsets that became safe to commit (maybe none), given the WAL positions read just now."""
        ready: dict[Partition, int] = {}
        if self._mark is not None and flush_lsn >= self._mark.lsn:
            ready = {
                key: offset for key, offset in self._mark.offsets.items() if self.released.get(key) != offset
            }
            self.released.update(self._mark.offsets)
            self._released_events = self._mark.events
            self._mark = None
        if self._mark is None and self.unflushed:
            # Every transaction committed before this read ends at or before insert_lsn.
            self._mark = _Mark(insert_lsn, dict(self.applied), self._events)
        return ready

    def rewind(self) -> dict[Partition, int]:
        """PostgreSQL restarted and may have lost what was not flushed: forget it; where to read again."""
        self.applied = dict(self.released)
        self._events = self._released_events
        self._mark = None
        return dict(self.released)

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Partitions given to another consumer: it reads them again from their committed offsets."""
        gone = set(partitions)
        self.applied = {key: offset for key, offset in self.applied.items() if key not in gone}
        self.released = {key: offset for key, offset in self.released.items() if key not in gone}
        if self._mark is not None:
            offsets = {key: offset for key, offset in self._mark.offsets.items() if key not in gone}
            self._mark = _Mark(self._mark.lsn, offsets, self._mark.events)
