"""The background a job is rendered over: one grammar (the SPEC) and one typed value.

``parse_background`` reads the SPEC the CLI, the API and the submit event share; the result is one of
``Colour``, ``Blur``, ``Image``, ``Video`` or ``Transparent`` (``kind`` tells which), and its ``spec``
is the canonical SPEC again, so an event written with a string reads back as the same string.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator

from schemas.colours import CSS_COLOURS
from schemas.common import Model

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
DEFAULT_BLUR_SIGMA = 12.0
MAX_BLUR_SIGMA = 200.0
Fit = Literal["cover", "contain"]
FitChoice = Annotated[
    Fit,
    Field(
        description="cover fills the frame (cropping the overflow); contain letterboxes (black bars).",
        examples=["cover", "contain"],
    ),
]

BACKGROUND_HELP = (
    "#RRGGBB (or #RGB), a CSS colour name (e.g. 'white'), 'blur' or 'blur:SIGMA' "
    f"(0 < SIGMA <= {MAX_BLUR_SIGMA:g}, default {DEFAULT_BLUR_SIGMA:g}), 'transparent', "
    f"or an image ({' '.join(IMAGE_SUFFIXES)}) or video ({' '.join(VIDEO_SUFFIXES)}): a local path for "
    "`backdrop process`, asset:ID (uploaded with POST /v1/assets) or s3://BUCKET/KEY in the uploads "
    "bucket for a pipeline job; prefix 'contain:' to letterbox it instead of filling the frame"
)

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_SIGMA = re.compile(r"[0-9]*\.?[0-9]+")
# S3 bucket naming rules, loosely: 3–63 lower-case letters, digits, dots and hyphens.
_OBJECT = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>\S+)")
_Channel = Annotated[int, Field(ge=0, le=255)]


class Colour(Model):
    """A solid colour."""

    kind: Literal["colour"] = Field(default="colour", description="A solid colour.", examples=["colour"])
    rgb: tuple[_Channel, _Channel, _Channel] = Field(
        description="Red, green and blue, 0–255 each.", examples=[(0, 255, 0)]
    )
    name: str | None = Field(
        default=None,
        description="The CSS colour name it was given by (lower case), so it reads back as written; "
        "null when given as #RRGGBB.",
        examples=["white", None],
    )

    @model_validator(mode="after")
    def _name_matches(self) -> Colour:
        if self.name is not None and CSS_COLOURS.get(self.name) != self.rgb:
            raise ValueError(f"colour name {self.name!r} is not a CSS colour of rgb {self.rgb}")
        return self

    @property
    def spec(self) -> str:
        return self.name or "#{:02X}{:02X}{:02X}".format(*self.rgb)


class Blur(Model):
    """The original frame, blurred, with the person left out."""

    kind: Literal["blur"] = Field(default="blur", description="The blurred original.", examples=["blur"])
    sigma: float = Field(
        default=DEFAULT_BLUR_SIGMA,
        gt=0,
        le=MAX_BLUR_SIGMA,
        description="Strength: the standard deviation of the Gaussian, in pixels.",
        examples=[DEFAULT_BLUR_SIGMA, 20.0],
    )

    @property
    def spec(self) -> str:
        return "blur" if self.sigma == DEFAULT_BLUR_SIGMA else f"blur:{_decimal(self.sigma)}"


class _File(Model):
    """An image or video file: a local path, or an object in the store as s3://BUCKET/KEY."""

    ref: str = Field(
        min_length=1,
        description="s3://BUCKET/KEY of an object in the uploads bucket, or (for `backdrop process`) a "
        "local path.",
        examples=["s3://backdrop-uploads/backgrounds/beach.jpg"],
    )
    fit: FitChoice = "cover"

    @property
    def s3_object(self) -> tuple[str, str] | None:
        """(bucket, key) when ``ref`` is an object in the store; None for a local path."""
        found = _OBJECT.fullmatch(self.ref)
        return (found["bucket"], found["key"]) if found else None

    @property
    def spec(self) -> str:
        return f"contain:{self.ref}" if self.fit == "contain" else self.ref


class Image(_File):
    """A still image, scaled to the frame."""

    kind: Literal["image"] = Field(default="image", description="A still image.", examples=["image"])

    @model_validator(mode="after")
    def _is_an_image(self) -> Image:
        _check_file(self.ref, "an image", IMAGE_SUFFIXES)
        return self


class Video(_File):
    """A video played from its start, scaled to the frame; looped when shorter than the clip."""

    kind: Literal["video"] = Field(default="video", description="A video.", examples=["video"])

    @model_validator(mode="after")
    def _is_a_video(self) -> Video:
        _check_file(self.ref, "a video", VIDEO_SUFFIXES)
        return self


ASSET_ID_PATTERN = r"asset_[A-Za-z0-9]{8,40}"


class Asset(Model):
    """An image or video the caller uploaded with POST /v1/assets, named by its id. The API (or extract,
    for a Kafka submit naming an owner) turns it into the owner's object before any worker sees the job."""

    kind: Literal["asset"] = Field(default="asset", description="An uploaded asset.", examples=["asset"])
    id: str = Field(
        pattern=f"^{ASSET_ID_PATTERN}$",
        description="The id POST /v1/assets gave.",
        examples=["asset_7Hk2mQx9LpR4tV8wYb3cNz"],
    )
    fit: FitChoice = "cover"

    @property
    def spec(self) -> str:
        return f"contain:asset:{self.id}" if self.fit == "contain" else f"asset:{self.id}"


class Transparent(Model):
    """No background: the output keeps the alpha channel."""

    kind: Literal["transparent"] = Field(
        default="transparent", description="Keep transparency.", examples=["transparent"]
    )

    @property
    def spec(self) -> str:
        return "transparent"


_KINDS = (Colour, Blur, Image, Video, Asset, Transparent)


def _from_wire(value: Any) -> Background:
    if isinstance(value, str):
        return parse_background(value)
    if isinstance(value, _KINDS):
        return value
    raise ValueError(f"a background is a SPEC string: {BACKGROUND_HELP}")


def _to_wire(background: Background) -> str:
    return background.spec


# As a field it reads the SPEC string (or an already typed value) and writes the canonical SPEC back, so
# events and their JSON Schema keep carrying a plain string. ``kind`` names the variant in a dump of the
# typed value; no Field(discriminator=...) here: the SPEC string is the only wire form, and FastAPI would
# apply the discriminator after the validator (TypeError).
Background = Annotated[
    Colour | Blur | Image | Video | Asset | Transparent,
    PlainValidator(_from_wire),
    PlainSerializer(_to_wire, return_type=str),
    WithJsonSchema({"type": "string"}),
]


def parse_background(text: str) -> Background:
    """Read a background SPEC; a ``ValueError`` says what is accepted when it fits nothing."""
    spec = text.strip()
    lowered = spec.lower()
    if lowered == "transparent":
        return Transparent()
    if lowered == "blur":
        return Blur()
    if lowered.startswith("blur:"):
        return Blur(sigma=_sigma(spec, spec[len("blur:") :]))
    fit, ref = _split_fit(spec)
    if ref.lower().startswith("asset:"):
        return Asset(id=ref[len("asset:") :], fit=fit)
    if ref.lower().endswith(IMAGE_SUFFIXES):
        _check_file(ref, "an image", IMAGE_SUFFIXES)
        return Image(ref=ref, fit=fit)
    if ref.lower().endswith(VIDEO_SUFFIXES):
        _check_file(ref, "a video", VIDEO_SUFFIXES)
        return Video(ref=ref, fit=fit)
    if ref != spec or any(mark in ref for mark in "./\\"):
        raise ValueError(
            f"background {ref!r} needs an image suffix ({' '.join(IMAGE_SUFFIXES)}) "
            f"or a video suffix ({' '.join(VIDEO_SUFFIXES)})"
        )
    if _HEX.fullmatch(spec):
        digits = spec[1:] if len(spec) == 7 else "".join(2 * digit for digit in spec[1:])
        return Colour(rgb=(int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)))
    if (rgb := CSS_COLOURS.get(lowered)) is not None:
        return Colour(rgb=rgb, name=lowered)
    raise ValueError(f"unknown background {text!r}: use {BACKGROUND_HELP}")


def _sigma(spec: str, number: str) -> float:
    if not _SIGMA.fullmatch(number):
        raise ValueError(
            f"bad blur strength {number!r} in {spec!r}: use 'blur' or 'blur:SIGMA' with a number"
        )
    sigma = float(number)
    if not 0 < sigma <= MAX_BLUR_SIGMA:
        raise ValueError(f"blur sigma must be in (0, {MAX_BLUR_SIGMA:g}]; got {number}")
    return sigma


def _check_file(ref: str, what: str, suffixes: tuple[str, ...]) -> None:
    if not ref.lower().endswith(suffixes):
        raise ValueError(f"{what} background {ref!r} needs one of the suffixes {' '.join(suffixes)}")
    if ref.startswith("s3://") and not _OBJECT.fullmatch(ref):
        raise ValueError(
            f"background object {ref!r} is not s3://BUCKET/KEY (a bucket is 3–63 lower-case letters, "
            "digits, dots and hyphens; a key has no spaces)"
        )


def _split_fit(spec: str) -> tuple[Fit, str]:
    lowered = spec.lower()
    if lowered.startswith("contain:"):
        return "contain", spec[len("contain:") :]
    if lowered.startswith("cover:"):
        return "cover", spec[len("cover:") :]
    return "cover", spec


def _decimal(number: float) -> str:
    """Shortest digits that read back as ``number``, never in exponent form (the grammar has none)."""
    text = f"{Decimal(repr(number)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
