"""Threads joined by bounded queues: decode, inference, matting and encoding overlap, memory stays bounded."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

_DONE = object()


class StageFailed(Exception):
    """Carries an exception raised inside a stage thread to the thread that consumes its output."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage, self.error = stage, error


class Stage(Generic[In, Out]):
    """Runs ``work`` over ``source`` in its own thread; iterate it to get the results, in order.

    ``maxsize`` bounds how far the stage may run ahead of its consumer; that bound is what keeps
    memory flat however long the clip is.
    """

    def __init__(
        self,
        name: str,
        source: Iterable[In],
        work: Callable[[In], Iterable[Out]],
        *,
        maxsize: int = 2,
        source_is_work: bool = False,
    ) -> None:
        self.name = name
        self.busy_s = 0.0  # wall time inside the work (and the source, for a first stage)
        self.cpu_s = 0.0  # this thread's CPU time over the same spans: busy_s less waiting for a core
        # A first stage's source does real work (decoding); a later stage's source is a queue wait.
        self._source_is_work = source_is_work
        self._source, self._work = source, work
        self._queue: queue.Queue[object] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"backdrop-{name}", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            iterator = iter(self._source)
            while not self._stop.is_set():
                waited, waited_cpu = time.perf_counter(), time.thread_time()
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                started, started_cpu = time.perf_counter(), time.thread_time()
                if self._source_is_work:
                    self.busy_s += started - waited
                    self.cpu_s += started_cpu - waited_cpu
                results = list(self._work(item))
                self.busy_s += time.perf_counter() - started
                self.cpu_s += time.thread_time() - started_cpu
                for result in results:
                    if not self._put(result):
                        return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(StageFailed(self.name, exc))
            return
        self._put(_DONE)

    def __iter__(self) -> Iterator[Out]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, StageFailed):
                raise item.error
            yield item  # type: ignore[misc]

    def stop(self) -> None:
        """Ask the thread to finish and wait for it (it stops at its next queue operation)."""
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=30)
