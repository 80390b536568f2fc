"""Set-up steps say what they do and how long they took.

Installing Debian packages, fetching the broker's jars and building MinIO take minutes on a fresh
machine. The code doing them wraps each in ``step("what")``; a command line installs a ``Reporter``
with ``reporting`` to show them, and without one they pass silently (tests, the API, workers).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import Protocol


class Reporter(Protocol):
    def started(self, what: str, depth: int) -> None:
        """A step began; ``depth`` counts the steps it runs inside."""

    def finished(self, what: str, depth: int, seconds: float, failed: bool) -> None:
        """It ended, after ``seconds``; ``failed`` when it raised."""


_reporter: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar("reporter", default=None)
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("depth", default=0)


@contextlib.contextmanager
def step(what: str, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Tell the installed reporter (if any) that ``what`` runs now, then how long it took."""
    reporter, depth = _reporter.get(), _depth.get()
    if reporter is None:
        yield
        return
    reporter.started(what, depth)
    token, began, failed = _depth.set(depth + 1), clock(), True
    try:
        yield
        failed = False
    finally:
        _depth.reset(token)
        reporter.finished(what, depth, clock() - began, failed)


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Steps taken inside go to ``reporter``."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
