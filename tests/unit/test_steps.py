"""Set-up steps: silent without a reporter, nested and timed with one, printed for a log."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from backdrop.cli.console import StepPrinter, show_steps
from infra.steps import reporting, step


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def started(self, what: str, depth: int) -> None:
        self.events.append(("started", what, depth))

    def finished(self, what: str, depth: int, seconds: float, failed: bool) -> None:
        self.events.append(("finished", what, depth, seconds, failed))


def test_without_a_reporter_a_step_only_runs_its_body() -> None:
    ran = []
    with step("nothing to see"):
        ran.append(1)
    assert ran == [1]
    with pytest.raises(KeyError), step("failing quietly"):
        raise KeyError("x")


def test_steps_nest_with_their_depth_and_time_and_say_when_they_failed() -> None:
    ticks = iter([0.0, 1.0, 4.0, 10.0, 12.0, 13.0])
    recorder = Recorder()
    with reporting(recorder):
        with step("kafka", clock=lambda: next(ticks)), step("jars", clock=lambda: next(ticks)):
            pass
        with pytest.raises(RuntimeError), step("minio", clock=lambda: next(ticks)):
            raise RuntimeError("go build failed")
    assert recorder.events == [
        ("started", "kafka", 0),
        ("started", "jars", 1),
        ("finished", "jars", 1, 3.0, False),
        ("finished", "kafka", 0, 10.0, False),
        ("started", "minio", 0),
        ("finished", "minio", 0, 1.0, True),
    ]
    with step("after"):  # the reporter is gone with its block
        pass
    assert len(recorder.events) == 6


def test_in_a_log_each_step_says_when_it_begins_and_how_long_it_took() -> None:
    out = io.StringIO()
    ticks = iter([0.0, 42.0, 50.0, 51.5])
    with show_steps(Console(file=out, width=40)):
        with step("fetching the Kafka broker's jars from Maven Central", clock=lambda: next(ticks)):
            pass
        with pytest.raises(OSError, match="no go"), step("building MinIO", clock=lambda: next(ticks)):
            raise OSError("no go")
    assert out.getvalue().splitlines() == [
        "… fetching the Kafka broker's jars from Maven Central",
        "✓ fetching the Kafka broker's jars from Maven Central (42.0 s)",  # one line, however wide
        "… building MinIO",
        "✗ building MinIO (1.5 s)",
    ]


def test_on_a_terminal_a_spinner_names_the_running_steps() -> None:
    out = Console(file=io.StringIO(), force_terminal=True)
    printer = StepPrinter(out)
    printer.started("kafka on 127.0.0.1:19092", 0)
    printer.started("fetching the jars", 1)
    assert printer.spinner is not None
    assert "kafka on 127.0.0.1:19092 › fetching the jars" in str(printer.spinner.status)
    printer.finished("fetching the jars", 1, 3.0, False)
    printer.finished("kafka on 127.0.0.1:19092", 0, 4.0, False)
    assert printer.running == []
