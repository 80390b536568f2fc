"""What every command group shares: the error console, progress bars, health tables, size and rate options."""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import tempfile
import traceback
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import ParamSpec, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from typer.exceptions import TyperException

from base.errors import BackdropError, InternalError
from infra.service import Health
from infra.steps import reporting

console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """No traceback reaches the user: one line with a stable code and what to do, then exit 1.

    A BackdropError is the user's to act on and says how. Anything else is a bug of ours: the line says so,
    with the code ``internal_error`` and the file the full traceback was written to.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BackdropError as exc:
            console.print(f"[bold red]error[/] [dim]({exc.code})[/] {exc.message}")
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # exits and usage errors: typer prints these itself
        except Exception as exc:
            report = write_traceback(exc)
            console.print(
                f"[bold red]error[/] [dim]({InternalError.code})[/] an unexpected {type(exc).__name__} "
                f"({exc}): a bug in Backdrop, not in your input. Please report it with the traceback "
                f"written to {report}"
            )
            raise typer.Exit(1) from None

    return wrapper


def write_traceback(exc: BaseException) -> Path:
    """The full traceback, in a file of its own (the terminal gets one line)."""
    fd, name = tempfile.mkstemp(prefix="backdrop-traceback-", suffix=".txt")
    with os.fdopen(fd, "w") as out:
        out.write("".join(traceback.format_exception(exc)))
    return Path(name)


def print_health(rows: list[Health], as_json: bool) -> None:
    if as_json:
        typer.echo(orjson.dumps([row.__dict__ for row in rows]).decode())
        return
    table = Table("service", "endpoint", "health", "pid", "detail")
    for row in rows:
        health = "[green]healthy[/]" if row.healthy else "[red]down[/]"
        table.add_row(row.name, row.endpoint, health, str(row.pid or "-"), row.detail)
    Console().print(table)


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' → (1280, 720)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise typer.BadParameter("width and height must be even and at least 16")
    return width, height


def parse_rate(text: str) -> Fraction:
    """'30', '29.97' or '24000/1001' → an exact Fraction."""
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise typer.BadParameter(f"expected a frame rate such as 30 or 24000/1001, got {text!r}") from None
    if not 1 <= rate <= 240:
        raise typer.BadParameter("the frame rate must be between 1 and 240")
    return rate


class FpsColumn(ProgressColumn):
    """Items per second over rich's recent-speed window."""

    def __init__(self, unit: str = "fps") -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:5.1f} {self.unit}" if task.speed else "", style="cyan")


def progress_bar(disable: bool = False, unit: str = "frames") -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        FpsColumn("fps" if unit == "frames" else f"{unit}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=disable,
    )


def job_bar(disable: bool = False) -> Progress:
    """A pipeline job's bar: its percent, and what the read model says of frames, speed and time left."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=disable,
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class StepPrinter:
    """Each set-up step as a line when it ends, with its time; on a terminal a spinner names the running
    ones, elsewhere (CI, a log) a line says when each begins, so a long one is never silent."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.running: list[str] = []
        self.spinner = out.status("") if out.is_terminal else None

    def started(self, what: str, depth: int) -> None:
        self.running.append(what)
        if self.spinner is None:
            self.out.print(f"{'  ' * depth}[dim]…[/] {what}", highlight=False, soft_wrap=True)
            return
        self.spinner.update(" › ".join(self.running))
        if len(self.running) == 1:
            self.spinner.start()

    def finished(self, what: str, depth: int, seconds: float, failed: bool) -> None:
        self.running.pop()
        mark = "[red]✗[/]" if failed else "[green]✓[/]"
        self.out.print(
            f"{'  ' * depth}{mark} {what} [dim]({seconds:.1f} s)[/]", highlight=False, soft_wrap=True
        )
        if self.spinner is not None:
            if self.running:
                self.spinner.update(" › ".join(self.running))
            else:
                self.spinner.stop()


@contextlib.contextmanager
def show_steps(out: Console = console) -> Iterator[None]:
    """Print the set-up steps taken inside (``infra.steps.step``) as they run."""
    printer = StepPrinter(out)
    try:
        with reporting(printer):
            yield
    finally:
        if printer.spinner is not None:
            printer.spinner.stop()
