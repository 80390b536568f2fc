"""No traceback reaches a user of the command line: one line with a stable code, the traceback in a file."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from backdrop.cli.console import user_errors
from base.errors import CorruptInput


def _app(error: Exception) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @user_errors
    def fail() -> None:
        raise error

    return app


def test_an_unexpected_error_is_one_line_with_the_traceback_in_a_file() -> None:
    result = CliRunner().invoke(_app(KeyError("frames")), [])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = " ".join(result.output.split())  # the console wraps long lines
    assert "(internal_error)" in lines
    assert "a bug in Backdrop, not in your input" in lines
    found = re.search(r"written to (\S+\.txt)", lines)
    assert found, lines
    report = Path(found.group(1))
    try:
        text = report.read_text()
        assert text.startswith("Traceback (most recent call last)")
        assert text.rstrip().endswith("KeyError: 'frames'")
    finally:
        report.unlink()


def test_our_errors_say_their_code_and_what_to_do() -> None:
    result = CliRunner().invoke(_app(CorruptInput("clip.mp4 is truncated; upload the whole file")), [])
    assert result.exit_code == 1
    assert "(input_corrupt) clip.mp4 is truncated; upload the whole file" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_usage_errors_stay_clicks() -> None:
    result = CliRunner().invoke(_app(typer.BadParameter("give a size such as 1280x720")), [])
    assert result.exit_code == 2
    assert "give a size such as 1280x720" in result.output


def test_a_commands_own_exit_code_passes_through() -> None:
    result = CliRunner().invoke(_app(typer.Exit(3)), [])
    assert (result.exit_code, result.output) == (3, "")
