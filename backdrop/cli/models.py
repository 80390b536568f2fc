"""`backdrop models …`: fetch the default models, list the built-ins."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from backdrop.cli.console import console, show_steps, user_errors
from base.settings import Settings
from infra.steps import step

models_app = typer.Typer(
    help="The segmentation models: fetch the default one, list what is available.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@models_app.command("fetch")
@user_errors
def models_fetch() -> None:
    """Fetch the default models once (from the mediapipe wheel on PyPI) and build their ONNX files."""
    from agents.segment.assets import ensure_selfie_tflites
    from agents.segment.onnx_cache import onnx_file
    from agents.segment.registry import builtin_registry

    settings = Settings()
    with show_steps(), step("the selfie segmentation models, from the mediapipe wheel on PyPI (once)"):
        ensure_selfie_tflites(settings.cache_dir, ("general", "landscape"))
        registry = builtin_registry()
        built = {name: onnx_file(registry.get(name), settings.cache_dir) for name in registry.names()}
    for name, path in built.items():
        console.print(f"{name}: {path}", soft_wrap=True)


@models_app.command("list")
@user_errors
def models_list() -> None:
    """The models this deployment serves (BACKDROP_MODELS): input size, licence and source."""
    from base.errors import ModelUnavailable
    from schemas.models import UnknownModel, served_models

    try:
        served = served_models(Settings().models)
    except UnknownModel as exc:
        raise ModelUnavailable(str(exc)) from None
    table = Table("name", "input (h×w)", "licence", "source")
    for card in served.values():
        name = f"{card.name} (default)" if card.default else card.name
        table.add_row(name, f"{card.input_size[0]}×{card.input_size[1]}", card.licence, card.source)
    Console().print(table)
