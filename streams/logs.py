"""Worker logs: plain lines for a terminal, or one JSON object per line for a log pipeline.

Every record carries the stage, and while a message is handled its job id, chunk and trace id (taken
from the current span, which continues the trace of the event's producer): a log search for one job
finds every line of every stage about it.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Literal

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]

_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("job", default=None)
_chunk: contextvars.ContextVar[int | None] = contextvars.ContextVar("chunk", default=None)


@contextlib.contextmanager
def about(job_id: str | None, chunk: int | None) -> Iterator[None]:
    """Log records made inside are about this job and chunk."""
    job_token, chunk_token = _job.set(job_id), _chunk.set(chunk)
    try:
        yield
    finally:
        _job.reset(job_token)
        _chunk.reset(chunk_token)


class _Context(logging.Filter):
    def __init__(self, stage: str) -> None:
        super().__init__()
        self.stage = stage

    def filter(self, record: logging.LogRecord) -> bool:
        record.stage = self.stage
        record.job_id = _job.get()
        record.chunk = _chunk.get()
        span = trace.get_current_span().get_span_context()
        record.trace_id = trace.format_trace_id(span.trace_id) if span.is_valid else None
        return True


def configure_logging(stage: str, fmt: LogFormat, level: int = logging.INFO) -> None:
    """The process's root logger: ``text`` as before (time, stage, pid, level, message), or ``json``."""
    handler = logging.StreamHandler()
    handler.addFilter(_Context(stage))
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(process)d %(message)s %(stage)s %(job_id)s %(chunk)s %(trace_id)s",
                rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
                timestamp="time",  # ISO 8601, UTC
            )
        )
    else:
        # The pid tells a worker from its replacement in the log file the replicas of a stage share.
        handler.setFormatter(logging.Formatter(f"%(asctime)s {stage} %(process)d %(levelname)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
