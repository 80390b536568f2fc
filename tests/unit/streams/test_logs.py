"""Worker log lines: JSON with the stage, job, chunk and trace of the message being handled."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider

from streams.logs import about, configure_logging


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_a_json_line_says_which_stage_job_chunk_and_trace(
    root_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("segment", "json")
    tracer = TracerProvider().get_tracer("test")
    with about("job_abc12345", 7), tracer.start_as_current_span("segment") as span:
        logging.getLogger("backdrop.worker").info("handled %s", "ChunkTask")
    logging.getLogger("backdrop.worker").warning("between messages")
    first, second = (orjson.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["message"] == "handled ChunkTask"
    assert (first["stage"], first["job_id"], first["chunk"]) == ("segment", "job_abc12345", 7)
    assert first["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert first["level"] == "INFO"
    assert first["time"].endswith("+00:00")
    assert (second["job_id"], second["chunk"], second["trace_id"]) == (None, None, None)


def test_a_text_line_is_what_it_was(root_restored: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("matte", "text")
    with about("job_abc12345", 2):
        logging.getLogger("backdrop.worker").info("matte: handled")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(" INFO matte: handled")
    assert " matte " in line
