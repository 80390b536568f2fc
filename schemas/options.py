"""What a user may choose for a job: background, output format, model and hero stills."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from schemas.background import BACKGROUND_HELP, Background, Image, Transparent, Video
from schemas.common import Model

Quality = Literal["draft", "standard", "high"]
OPAQUE_FORMATS = frozenset({"mp4", "jpg"})
OPTIONS_EXAMPLE = {"background": "blur", "output_format": "mp4", "model": "selfie", "heroes": 5}


class JobOptions(Model):
    """How a job renders; every field has a default, so ``{}`` is a valid choice."""

    background: Background = Field(
        default="blur",
        validate_default=True,
        description="The new background, the SPEC the CLI takes: " + BACKGROUND_HELP + ".",
        examples=["blur", "blur:20", "#00FF00", "white", "transparent", "s3://backdrop-uploads/beach.jpg"],
    )
    output_format: Literal["mp4", "webm", "mov", "png", "jpg", "webp"] = Field(
        default="mp4",
        description="What the result is. A video gives mp4 (H.264 + AAC), webm (VP9 + Opus, keeps "
        "transparency), mov (ProRes 4444 + the source's audio, keeps transparency) or png (a ZIP "
        "archive of one PNG per frame, keeps transparency, with the audio beside the frames); jpg and "
        "webp are for stills. A still gives a still: png (keeps transparency) unless jpg or webp "
        "(lossless, keeps transparency) is chosen.",
        examples=["mp4", "webm", "png"],
    )
    model: str = Field(
        default="selfie",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Name of a segmentation model the workers serve (GET /v1/models lists them); a job "
        "naming another is refused (422 from the API; the job fails with model_unknown from a Kafka submit).",
        examples=["selfie", "selfie-landscape"],
    )
    quality: Quality = Field(
        default="standard",
        description="Speed against fidelity: draft (fastest encoder settings, a coarser matte), standard, "
        "or high (slower encoder settings, larger files); the README's table lists each format's settings.",
        examples=["standard", "draft"],
    )
    mask: bool = Field(
        default=False,
        description="Also keep the matte: alpha as a greyscale video (lossless H.264 MP4 in full range, "
        "so each grey level is the alpha exactly), or a greyscale PNG for a still.",
        examples=[False, True],
    )
    heroes: int = Field(
        default=5,
        ge=0,
        le=20,
        description="How many hero stills (the sharpest, best-exposed frames) to keep; 0 keeps none.",
        examples=[5, 0],
    )

    @field_validator("background")
    @classmethod
    def _in_the_object_store(cls, background: Background) -> Background:
        if isinstance(background, Image | Video) and background.s3_object is None:
            raise ValueError(
                f"background {background.ref!r} is a local file, which the pipeline cannot read: upload it "
                "to the uploads bucket and give s3://BUCKET/KEY"
            )
        return background

    @model_validator(mode="after")
    def _alpha_needs_alpha_output(self) -> JobOptions:
        if isinstance(self.background, Transparent) and self.output_format in OPAQUE_FORMATS:
            raise ValueError(
                f"{self.output_format} cannot hold transparency: choose output_format webm, mov or png "
                "(webp for a still), or a background colour, image, video or blur"
            )
        return self
