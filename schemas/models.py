"""The segmentation models a deployment serves, by name: what the API lists and checks a job's model against.

``BACKDROP_MODELS`` names them: built-in names, or paths of JSON model cards (a user's own .onnx,
TorchScript or torch.export file, as `backdrop process --model card.json` takes). The segment workers and
the API read the same list, so a job is refused at the door for a model no worker would load.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import Field

from schemas.common import Model

MEDIAPIPE_SOURCE = "MediaPipe selfie segmentation, from the mediapipe 0.10.14 wheel on PyPI"


class ModelCard(Model):
    """One served model, as `GET /v1/models` lists it."""

    name: str = Field(description="What a job names in options.model.", examples=["selfie"])
    input_size: tuple[int, int] = Field(
        description="The network's input, [height, width] in pixels: finer masks need larger inputs.",
        examples=[[256, 256]],
    )
    licence: str = Field(
        description="The weights' licence (SPDX id where there is one).", examples=["Apache-2.0"]
    )
    description: str = Field(default="", description="What the model is made for.")
    source: str = Field(default="", description="Where its weights come from.")
    default: bool = Field(default=False, description="Whether jobs that name no model get this one.")
    install: str = Field(
        default="",
        description="For a model whose weights are not installed with Backdrop (another licence): the "
        "command that fetches them. Empty for the bundled ones.",
        examples=["", "backdrop models fetch isnet"],
    )


BUILTIN_MODELS = {
    card.name: card
    for card in (
        ModelCard(
            name="selfie",
            input_size=(256, 256),
            licence="Apache-2.0",
            description="People near the camera (webcam, phone): 106k parameters, fast on a CPU.",
            source=MEDIAPIPE_SOURCE,
            default=True,
        ),
        ModelCard(
            name="selfie-landscape",
            input_size=(144, 256),
            licence="Apache-2.0",
            description="The same network for 16:9 frames: a wider, coarser input, faster still.",
            source=MEDIAPIPE_SOURCE,
        ),
        ModelCard(
            name="isnet",
            input_size=(1024, 1024),
            licence="AGPL-3.0-only",
            description="ISNet (dichotomous image segmentation): the main subject of any scene, people or "
            "not, with fine edges; 1024×1024 and seconds a frame on a CPU, so for stills, short clips or a "
            "GPU. Not installed by default (AGPL).",
            source="@imgly/background-removal-data 1.4.5 on npm (its 'medium' ISNet; the package is "
            "AGPL-3.0, its notice lists the ISNet weights as MIT)",
            install="backdrop models fetch isnet",
        ),
    )
}
DEFAULT_MODEL = "selfie"


class UnknownModel(ValueError):
    """A job names a model that is not served; the message lists those that are."""


def served_models(entries: str) -> dict[str, ModelCard]:
    """The models ``entries`` names (comma-separated built-in names or model-card paths), by name.

    A card is read for what the API shows (name, input size, licence); its network, only by the workers.
    """
    served: dict[str, ModelCard] = {}
    for entry in (e.strip() for e in entries.split(",")):
        if not entry:
            continue
        card = _card(Path(entry)) if entry.lower().endswith(".json") else BUILTIN_MODELS.get(entry)
        if card is None:
            raise UnknownModel(
                f"BACKDROP_MODELS names {entry!r}, which is neither a built-in model "
                f"({', '.join(BUILTIN_MODELS)}) nor a model card (.json)"
            )
        served[card.name] = card
    return served


def check_model(name: str, served: dict[str, ModelCard]) -> None:
    """UnknownModel unless ``name`` is served."""
    if name not in served:
        raise UnknownModel(f"model {name!r} is not served here; choose one of: {', '.join(sorted(served))}")


def _card(path: Path) -> ModelCard:
    try:
        card = orjson.loads(path.read_bytes())
        size = card["input_size"]
        return ModelCard(
            name=card.get("name") or Path(card["path"]).stem,
            input_size=(int(size[0]), int(size[1])),
            licence=card.get("licence", "unknown: see the model's own terms"),
            description=card.get("description", ""),
            source=str(card["path"]),
        )
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise UnknownModel(
            f"cannot read the model card {path}: {exc}. A card is JSON with at least "
            '"path" and "input_size" [height, width].'
        ) from None
