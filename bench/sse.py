"""The SSE phase of `backdrop bench --api`, bench side: the client processes, and a listener on the
projector's NOTIFY channel that splits each event's latency into projector and API shares."""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson
import psycopg

from api.projection import NOTIFY_CHANNEL
from base.errors import BackdropError
from bench.processes import Child, spawn

Message = tuple[int, dict[str, Any]]


class ClientFleet:
    """``bench.sse_clients`` processes sharing the streams; they talk in JSON lines on stdout."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.messages: queue.Queue[Message] = queue.Queue()
        for index, child in enumerate(children):
            if child.process.stdout is None:
                raise BackdropError("an SSE client process has no stdout pipe")  # unreachable: piped
            threading.Thread(
                target=_read_lines, args=(index, child.process.stdout, self.messages), daemon=True
            ).start()

    @classmethod
    def start(cls, streams: list[str], processes: int, plan: dict[str, Any], log_dir: Path) -> ClientFleet:
        """``streams`` (a job id per client) dealt over ``processes``; ``plan`` is the rest they need."""
        children = []
        for index in range(processes):
            argv = [sys.executable, "-m", "bench.sse_clients"]
            child = spawn(f"sse-clients-{index}", argv, log_dir / f"sse-clients-{index}.log", piped=True)
            children.append(child)
            if child.process.stdin is None:
                raise BackdropError("an SSE client process has no stdin pipe")  # unreachable: piped
            child.process.stdin.write(orjson.dumps({**plan, "streams": streams[index::processes]}))
            child.process.stdin.close()
        return cls(children)

    def stop(self) -> None:
        for child in self.children:
            child.stop()

    def wait_ready(self, timeout_s: float, progress: Callable[[int], None]) -> float:
        """Until every process has opened its streams (or given up on some); the slowest one's seconds."""
        connected = [0] * len(self.children)
        ready: dict[int, float] = {}
        while len(ready) < len(self.children):
            index, message = self._next(timeout_s)
            if "connected" in message:
                connected[index] = message["connected"]
            elif "ready" in message:
                connected[index] = message["ready"]
                ready[index] = message["connect_s"]
            progress(sum(connected))
        return max(ready.values())

    def results(self, timeout_s: float) -> list[dict[str, Any]]:
        """Each process's final report, once all their streams have ended."""
        results: dict[int, dict[str, Any]] = {}
        while len(results) < len(self.children):
            index, message = self._next(timeout_s)
            if "result" in message:
                results[index] = message["result"]
        return list(results.values())

    def _next(self, timeout_s: float) -> Message:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                return self.messages.get(timeout=0.5)
            for child in self.children:
                if child.process.poll() not in (None, 0):
                    raise BackdropError(
                        f"an SSE client process failed ({child.process.returncode}); see {child.log}"
                    )
        raise BackdropError(f"the SSE client processes went silent for {timeout_s:.0f} s")


def _read_lines(index: int, stream: IO[bytes], into: queue.Queue[Message]) -> None:
    for line in stream:
        with contextlib.suppress(orjson.JSONDecodeError):
            into.put((index, orjson.loads(line)))


class NotifyListener:
    """LISTENs like the API's event hub and notes when each event's announcement arrives (time.time())."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.heard: dict[str, float] = {}  # event_id → arrival
        self.listening = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-notify-listener", daemon=True)

    def __enter__(self) -> NotifyListener:
        self._thread.start()
        if not self.listening.wait(30):
            raise BackdropError(f"could not LISTEN on {NOTIFY_CHANNEL}: {self.error}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._thread.join(10)

    def _run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                self.listening.set()
                while not self.stopping.is_set():
                    for notify in conn.notifies(timeout=0.2):
                        arrived = time.time()
                        data = orjson.loads(notify.payload).get("data") or {}
                        if "event_id" in data:
                            self.heard[data["event_id"]] = arrived
        except psycopg.Error as exc:
            self.error = exc
