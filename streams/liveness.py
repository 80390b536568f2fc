"""A consumer's pulse: when it last polled and whether it is busy, in a file that probes read.

A worker whose process lives but who no longer polls (a call that never returns, a loop that stopped after
a broker outage) looks healthy to a pid check and to Kafka's own heartbeats, which run on librdkafka's
thread. Its pulse goes stale instead: the loop notes each poll and each batch it starts, a file holds the
last of them, and ``stale_reason`` tells a worker that is quiet too long from one busy on a long chunk.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

SUFFIX = ".pulse.json"
# A loop polls every 0.5 s when idle: a minute without a poll means it is stuck.
MAX_QUIET_S = 60.0
# As long as a consumer may take between polls (max.poll.interval.ms): past it Kafka gives its work away.
MAX_BUSY_S = 900.0


@dataclass(frozen=True)
class Pulse:
    name: str
    pid: int
    polled_at: float  # Unix time of the last poll
    busy_since: float | None  # Unix time the batch in hand was taken; None while polling
    assigned: int  # partitions held when the loop last wrote the file
    handled: int  # messages handled since the start


class PulseWriter:
    """Writes this process's pulse (atomically), at most every ``interval_s``.

    The loop only notes what it does (``polling``, ``busy``), which costs nothing; the file is written by
    ``polling`` once ``interval_s`` has passed, and by ``beat``, which the thread that ``start`` begins
    calls while the loop is busy. A batch of a few milliseconds never reaches the file, and a projector
    applying an event at a time no longer writes and renames a file twice per event; a long batch shows
    as busy within ``interval_s``, far inside what `stale_reason` allows.
    """

    def __init__(
        self,
        folder: Path,
        name: str,
        *,
        interval_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name, self.interval_s, self.clock = name, interval_s, clock
        self.path = folder / f"{name}-{os.getpid()}{SUFFIX}"
        self._written_at = float("-inf")
        self._busy_since: float | None = None
        self._polled_at = clock()
        self._handled = 0
        self._assigned = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._beating: threading.Thread | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        """Beat every ``interval_s`` on a thread of its own until ``close``."""

        def beat_until_closed() -> None:
            while not self._stopped.wait(self.interval_s):
                self.beat()

        self._beating = threading.Thread(target=beat_until_closed, name=f"{self.name}-pulse", daemon=True)
        self._beating.start()

    def polling(self, assigned: Callable[[], int], handled: int) -> None:
        """About to poll: the loop is alive and not busy. ``assigned`` (the partitions held) is asked only
        when the file is due, and here, on the loop's own thread."""
        with self._lock:
            self._polled_at, self._busy_since, self._handled = self.clock(), None, handled
            if self._due():
                self._assigned = assigned()
                self._write()

    def busy(self, handled: int) -> None:
        """A batch was taken: from now on the loop is busy with it."""
        with self._lock:
            self._busy_since, self._handled = self.clock(), handled

    def beat(self) -> None:
        """Write what the loop last noted, if ``interval_s`` has passed since the last write.

        It never asks the consumer anything: a consumer whose close hangs (after a broker outage) blocks
        every call into it, and this thread, holding the lock the loop's next poll needs, would stop the
        loop with it. The partition count is the one the loop took at its last write.
        """
        with self._lock:
            if self._due():
                self._write()

    def close(self) -> None:
        self._stopped.set()
        if self._beating is not None:
            self._beating.join()
        self.path.unlink(missing_ok=True)

    def _due(self) -> bool:
        return not self._stopped.is_set() and self.clock() - self._written_at >= self.interval_s

    def _write(self) -> None:
        assigned, handled = self._assigned, self._handled
        pulse = Pulse(self.name, os.getpid(), self._polled_at, self._busy_since, assigned, handled)
        partial = self.path.with_suffix(".tmp")
        partial.write_bytes(orjson.dumps(asdict(pulse)))
        partial.replace(self.path)  # a reader sees the old pulse or the new one, never half of one
        self._written_at = self.clock()


def read_pulses(folder: Path, name: str | None = None) -> list[Pulse]:
    """The pulses in ``folder`` (of consumers called ``name``, if given), newest poll first."""
    pulses = []
    for path in folder.glob(f"{name or '*'}-*{SUFFIX}") if folder.is_dir() else []:
        with contextlib.suppress(OSError, orjson.JSONDecodeError, TypeError):
            pulses.append(Pulse(**orjson.loads(path.read_bytes())))
    return sorted(pulses, key=lambda pulse: pulse.polled_at, reverse=True)


def stale_reason(
    pulse: Pulse, now: float, max_quiet_s: float = MAX_QUIET_S, max_busy_s: float = MAX_BUSY_S
) -> str | None:
    """Why a consumer with this pulse is not doing its job, or None while it is."""
    if pulse.busy_since is not None:
        busy = now - pulse.busy_since
        if busy > max_busy_s:
            return f"{pulse.name} (pid {pulse.pid}) has been busy on one batch for {busy:.0f} s"
        return None
    quiet = now - pulse.polled_at
    if quiet > max_quiet_s:
        return f"{pulse.name} (pid {pulse.pid}) has not polled for {quiet:.0f} s"
    return None


# A consumer that is idle while messages wait on its partitions for this long has a stuck fetcher.
STALL_AFTER_S = 60.0
# How often an idle consumer compares its positions with the partitions' ends (a broker round trip).
STALL_CHECK_S = 15.0


class StallWatch:
    """Tells a consumer that polls and polls but receives nothing while messages wait on its partitions.

    librdkafka can come back from a broker outage with its partitions assigned and heartbeats flowing
    but its fetcher stuck (confluentinc/librdkafka#5153): the loop keeps polling, so its pulse stays
    fresh, and only its backlog shows it. The cure is what a restart does: a new consumer.
    """

    def __init__(
        self,
        stall_after_s: float = STALL_AFTER_S,
        check_every_s: float = STALL_CHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stall_after_s, self.check_every_s, self.clock = stall_after_s, check_every_s, clock
        self._checked = clock()
        self._waiting_since: float | None = None

    def received(self) -> None:
        """A batch arrived: whatever waited is flowing."""
        self._waiting_since = None

    def stalled(self, backlog: Callable[[], int | None]) -> bool:
        """Called when a poll came back empty; ``backlog()`` (asked at most every ``check_every_s``) counts
        the messages waiting on the assigned partitions. True once they have waited ``stall_after_s``.

        ``None`` is a backlog the consumer could not measure while it holds partitions: a consumer whose
        broker came back but whose own requests keep timing out is as stuck as one that fetches nothing,
        so an unknown backlog waits the same ``stall_after_s`` as a counted one.
        """
        now = self.clock()
        if now - self._checked < self.check_every_s:
            return False
        self._checked = now
        if backlog() == 0:
            self._waiting_since = None
            return False
        if self._waiting_since is None:
            self._waiting_since = now
        if now - self._waiting_since < self.stall_after_s:
            return False
        self._waiting_since = None  # a fresh start for the consumer that replaces this one
        return True
