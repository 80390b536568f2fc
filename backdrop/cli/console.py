"""What every command group shares: the error console, progress bars, health tables, size and rate options."""

from __future__ import annotations

import functools
import resource
from collections.abc import Callable
from fractions import Fraction
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
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from base.errors import BackdropError
from infra.service import Health

console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """A BackdropError is the user's to act on: print its message, exit 1, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BackdropError as exc:
            console.print(f"[bold red]error[/] [dim]({exc.code})[/] {exc.message}")
            raise typer.Exit(1) from None

    return wrapper


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


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
