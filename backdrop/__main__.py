"""`python -m backdrop`: the same as the `backdrop` command."""

from backdrop.cli import app

app(prog_name="backdrop")
