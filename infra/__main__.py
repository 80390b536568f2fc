"""`python -m infra up|down|status`: the same commands as `backdrop infra`, for CI and scripts."""

from backdrop.cli import infra_app

infra_app(prog_name="python -m infra")
