"""Segmentation models by name: network source, input size, preprocessing and what the output means."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson

from base.errors import ModelUnavailable
from schemas.models import BUILTIN_MODELS

# torch-export: a torch.export program saved with torch.export.save (.pt2), the successor of TorchScript.
# imgly-isnet: the optional ISNet ONNX file that `backdrop models fetch isnet` caches (agents.segment.imgly).
SourceKind = Literal["mediapipe-selfie", "imgly-isnet", "onnx", "torchscript", "torch-export"]
BUILTIN_SOURCES = frozenset({"mediapipe-selfie", "imgly-isnet"})
ONNX_SOURCES = frozenset({"onnx", "imgly-isnet"})
# probability: already in [0, 1]; logits: sigmoid applied; softmax: over channels, then ``output_channel``.
OutputKind = Literal["probability", "logits", "softmax"]
# mediapipe: MediaPipe's ImageToTensor (bilinear, pixel corners mapped to corners, no anti-aliasing);
# area / linear: cv2.resize with INTER_AREA / INTER_LINEAR.
ResizeKind = Literal["mediapipe", "area", "linear"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """How to build and feed a model: its NCHW input is ``(pixel * scale - mean) / std`` per channel."""

    name: str
    input_size: tuple[int, int]  # (height, width)
    source: SourceKind
    path: Path | None = None  # the model file; None for the built-in models (their files are in the cache)
    variant: Literal["general", "landscape"] = "general"  # which selfie .tflite (mediapipe-selfie only)
    channel_order: Literal["rgb", "bgr"] = "rgb"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    resize: ResizeKind = "area"
    output: OutputKind = "probability"
    output_index: int = (
        0  # which output tensor (U²-Net returns seven side outputs; the first is the fused one)
    )
    output_channel: int = 0  # which channel holds the foreground

    def __post_init__(self) -> None:
        height, width = self.input_size
        if height <= 0 or width <= 0:
            raise ModelUnavailable(f"model {self.name!r}: input size must be positive, got {self.input_size}")
        if self.source in BUILTIN_SOURCES and self.path is not None:
            raise ModelUnavailable(f"model {self.name!r}: the built-in models take no path")
        if self.source not in BUILTIN_SOURCES and self.path is None:
            raise ModelUnavailable(f"model {self.name!r}: an {self.source} model needs the path of its file")
        if any(s == 0 for s in self.std):
            raise ModelUnavailable(f"model {self.name!r}: std must not contain 0")


SELFIE = ModelSpec(
    "selfie", BUILTIN_MODELS["selfie"].input_size, "mediapipe-selfie", variant="general", resize="mediapipe"
)
SELFIE_LANDSCAPE = ModelSpec(
    "selfie-landscape",
    BUILTIN_MODELS["selfie-landscape"].input_size,
    "mediapipe-selfie",
    variant="landscape",
    resize="mediapipe",
)

# ISNet as IMG.LY's background-removal-js feeds it: the frame stretched to 1024×1024 (bilinear), then
# (pixel - 128) / 256; out comes one map already in [0, 1].
ISNET = ModelSpec(
    "isnet",
    BUILTIN_MODELS["isnet"].input_size,
    "imgly-isnet",
    scale=1.0 / 256.0,
    mean=(0.5, 0.5, 0.5),
    resize="linear",
)


def user_model_spec(
    name: str,
    path: Path,
    input_size: tuple[int, int],
    *,
    channel_order: Literal["rgb", "bgr"] = "rgb",
    scale: float = 1.0 / 255.0,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    resize: ResizeKind = "area",
    output: OutputKind = "probability",
    output_index: int = 0,
    output_channel: int = 0,
) -> ModelSpec:
    """A spec for a user's .onnx, TorchScript (.pt, .ts) or torch.export (.pt2) file; ImageNet mean/std."""
    # rembg's U²-Net, for instance: user_model_spec("u2net", Path("u2net.onnx"), (320, 320)).
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        source: SourceKind = "onnx"
    elif suffix in (".pt", ".pth", ".ts", ".torchscript"):
        source = "torchscript"
    elif suffix == ".pt2":
        source = "torch-export"
    else:
        raise ModelUnavailable(
            f"{path}: expected a .onnx, TorchScript (.pt, .ts) or torch.export (.pt2) file"
        )
    return ModelSpec(
        name,
        input_size,
        source,
        path=path,
        channel_order=channel_order,
        scale=scale,
        mean=mean,
        std=std,
        resize=resize,
        output=output,
        output_index=output_index,
        output_channel=output_channel,
    )


@dataclass
class ModelRegistry:
    """Known models by name; start from :func:`builtin_registry` and register your own."""

    specs: dict[str, ModelSpec] = field(default_factory=dict)

    def register_model(self, spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
        """Add ``spec``; a name already taken needs ``replace=True``."""
        if spec.name in self.specs and not replace:
            raise ModelUnavailable(f"a model named {spec.name!r} is already registered; pick another name")
        if spec.path is not None and not spec.path.is_file():
            raise ModelUnavailable(f"model {spec.name!r}: {spec.path} does not exist")
        self.specs[spec.name] = spec
        return spec

    def get(self, name: str) -> ModelSpec:
        """The spec called ``name``."""
        if name not in self.specs:
            known = ", ".join(sorted(self.specs)) or "none"
            raise ModelUnavailable(f"unknown segmentation model {name!r}; known models: {known}")
        return self.specs[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self.specs)


def builtin_registry() -> ModelRegistry:
    """A fresh registry holding ``selfie`` (the default), ``selfie-landscape`` and the optional ``isnet``."""
    return ModelRegistry({spec.name: spec for spec in (SELFIE, SELFIE_LANDSCAPE, ISNET)})


def registry_for(model: str) -> tuple[str, ModelRegistry]:
    """``model`` is a built-in name (kept as is) or a .json model card, registered beside the built-ins."""
    registry = builtin_registry()
    if not model.lower().endswith(".json"):
        return model, registry
    spec = registry.register_model(card_spec(Path(model)), replace=True)
    return spec.name, registry


def serving_registry(entries: str) -> ModelRegistry:
    """The models a worker serves: ``entries`` (BACKDROP_MODELS) names built-ins and model cards."""
    builtin = builtin_registry()
    served = ModelRegistry()
    for entry in (e.strip() for e in entries.split(",")):
        if entry:
            spec = card_spec(Path(entry)) if entry.lower().endswith(".json") else builtin.get(entry)
            served.register_model(spec, replace=True)
    return served


def card_spec(card_path: Path) -> ModelSpec:
    """The spec a JSON model card describes; its "licence" and "description" are for people only."""
    try:
        card = orjson.loads(card_path.read_bytes())
        path = Path(card.pop("path"))
        if not path.is_absolute():
            path = card_path.parent / path
        name = card.pop("name", path.stem)
        size = tuple(card.pop("input_size"))
        for key in ("licence", "description"):
            card.pop(key, None)
        for key in ("mean", "std"):
            if key in card:
                card[key] = tuple(card[key])
        return user_model_spec(name, path, (int(size[0]), int(size[1])), **card)
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelUnavailable(
            f"cannot use model card {card_path}: {exc}. A card is JSON with at least "
            '"path" and "input_size" [height, width].'
        ) from None
