"""Faults for `backdrop soak`: SIGKILLs at random moments, a PostgreSQL crash, and what must hold after.

A ``Chaos`` strikes its planned faults as the soak's clock passes them, each a SIGKILL of the named
process (a worker, the projector, the dispatcher, or a server), and a couple of seconds later starts
again whatever is missing, as a supervisor would. A ``WebhookReceiver`` takes the jobs' webhooks on
loopback and counts them per job by ``webhook-id`` (a delivery retried after a dispatcher died
mid-POST keeps its id: receivers deduplicate on it). ``frame_count`` reads how many frames a video
really holds, for the check that a job killed along the way still delivers every frame.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import orjson

# Loopback, but not 127.0.0.1: the stack must be told to allow it (BACKDROP_URL_ALLOW_NETWORKS).
RECEIVER_HOST = "127.0.0.2"


@dataclass(frozen=True)
class Fault:
    at_s: float  # since the soak began
    target: str  # a process name as the soak's ``pids()`` gives it


@dataclass(frozen=True)
class Struck:
    at_s: float
    target: str
    pid: int | None  # None: the target was not running at that moment


def plan(
    kills: int, seconds: float, targets: Sequence[str], seed: int, postgres_at_s: float | None = None
) -> list[Fault]:
    """``kills`` SIGKILLs of targets drawn at random, at random moments within the first nine tenths of
    ``seconds`` (so the last jobs still run after the last one); a PostgreSQL crash at ``postgres_at_s``."""
    chooser = random.Random(seed)  # noqa: S311 (a repeatable plan, not a secret)
    faults = [
        Fault(round(chooser.uniform(0.02, 0.9) * seconds, 1), chooser.choice(list(targets)))
        for _ in range(kills)
    ]
    if postgres_at_s is not None:
        faults.append(Fault(postgres_at_s, "postgres"))
    return sorted(faults, key=lambda fault: fault.at_s)


class Chaos:
    def __init__(
        self,
        faults: Iterable[Fault],
        pids: Callable[[], dict[str, int]],
        restart: Callable[[], None],
        restart_after_s: float = 2.0,
        kill: Callable[[int, int], None] = os.kill,
        crashes: Mapping[str, Callable[[], None]] | None = None,
    ) -> None:
        """``pids()`` names the live processes; ``restart()`` starts what is missing. A target in
        ``crashes`` is struck by its own call instead of a SIGKILL (PostgreSQL: an immediate stop, which
        leaves its WAL as a crash does without orphaning its backends)."""
        self.pending = sorted(faults, key=lambda fault: fault.at_s)
        self.pids, self.restart, self.restart_after_s, self.kill = pids, restart, restart_after_s, kill
        self.crashes = dict(crashes or {})
        self.struck: list[Struck] = []
        self._restart_at: float | None = None

    def tick(self, elapsed_s: float) -> None:
        """Strike what is due, and start again what was struck a moment ago."""
        while self.pending and self.pending[0].at_s <= elapsed_s:
            fault = self.pending.pop(0)
            pid = self.pids().get(fault.target)
            if pid is not None and fault.target in self.crashes:
                self.crashes[fault.target]()
            elif pid is not None:
                try:
                    self.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pid = None
            self.struck.append(Struck(round(elapsed_s, 1), fault.target, pid))
            self._restart_at = elapsed_s + self.restart_after_s
        if self._restart_at is not None and elapsed_s >= self._restart_at:
            self._restart_at = None
            self.restart()

    def finish(self) -> None:
        """Start again anything still down."""
        if self._restart_at is not None:
            self._restart_at = None
            self.restart()


class WebhookReceiver:
    """Answers 200 to every POST on loopback and keeps, per job, the ``webhook-id`` of each."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: dict[str, list[str]] = defaultdict(list)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    job_id = str(orjson.loads(body)["data"]["job_id"])
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    job_id = ""
                with receiver.lock:
                    receiver.received[job_id].append(self.headers.get("webhook-id", ""))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((RECEIVER_HOST, 0), Handler)
        self.url = f"http://{RECEIVER_HOST}:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def tally(self, job_ids: Iterable[str]) -> dict[str, int]:
        """How many of these jobs had exactly one delivery, none, or more than one (distinct ids), and how
        many POSTs repeated a delivery already received."""
        counts = {"one": 0, "none": 0, "more": 0, "repeated_posts": 0}
        with self.lock:
            for job_id in job_ids:
                ids = self.received.get(job_id, [])
                distinct = len(set(ids))
                counts["one" if distinct == 1 else "none" if distinct == 0 else "more"] += 1
                counts["repeated_posts"] += len(ids) - distinct
        return counts


def frame_count(path: Path) -> int:
    """Frames a video file holds, decoded one by one (a container's own count can be wrong)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))
