"""What a user may choose for a job: background, output format, model and hero stills."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from schemas.common import Model

# CSS Color Module Level 4 names, the set the CLI accepts through Pillow's ImageColor; a word list
# reads better here than 148 quoted items.
_CSS_COLOUR_WORDS = """
    aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue blueviolet brown
    burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk crimson cyan darkblue darkcyan
    darkgoldenrod darkgray darkgreen darkgrey darkkhaki darkmagenta darkolivegreen darkorange darkorchid
    darkred darksalmon darkseagreen darkslateblue darkslategray darkslategrey darkturquoise darkviolet
    deeppink deepskyblue dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia gainsboro
    ghostwhite gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo ivory khaki
    lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan lightgoldenrodyellow
    lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen lightskyblue lightslategray
    lightslategrey lightsteelblue lightyellow lime limegreen linen magenta maroon mediumaquamarine
    mediumblue mediumorchid mediumpurple mediumseagreen mediumslateblue mediumspringgreen mediumturquoise
    mediumvioletred midnightblue mintcream mistyrose moccasin navajowhite navy oldlace olive olivedrab
    orange orangered orchid palegoldenrod palegreen paleturquoise palevioletred papayawhip peachpuff peru
    pink plum powderblue purple rebeccapurple red rosybrown royalblue saddlebrown salmon sandybrown
    seagreen seashell sienna silver skyblue slateblue slategray slategrey snow springgreen steelblue tan
    teal thistle tomato turquoise violet wheat white whitesmoke yellow yellowgreen
"""
COLOUR_NAMES = frozenset(_CSS_COLOUR_WORDS.split())
# The suffixes the composite stage recognises as an image or a video background.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
BACKGROUND_SUFFIXES = (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES)
MAX_BLUR_SIGMA = 200.0

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_BLUR = re.compile(r"blur(?::(?P<sigma>[0-9]*\.?[0-9]+))?", re.IGNORECASE)
# S3 bucket naming rules, loosely: 3–63 lower-case letters, digits, dots and hyphens.
_OBJECT = re.compile(r"(?:(?:contain|cover):)?s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(?P<key>[^\s]+)")
SPEC_HELP = (
    "use #RRGGBB, a colour name (e.g. 'white'), 'blur' or 'blur:SIGMA' (0 < SIGMA <= 200), 'transparent', "
    "or an image or video in the uploads bucket as s3://BUCKET/KEY (prefix 'contain:' to letterbox an image)"
)


def _check_background(spec: str) -> str:
    text = spec.strip()
    if text.lower() == "transparent" or _HEX.fullmatch(text) or text.lower() in COLOUR_NAMES:
        return text
    if blur := _BLUR.fullmatch(text):
        sigma = blur.group("sigma")
        if sigma is not None and not 0 < float(sigma) <= MAX_BLUR_SIGMA:
            raise ValueError(f"blur sigma must be in (0, {MAX_BLUR_SIGMA:g}]; got {sigma}")
        return text
    if found := _OBJECT.fullmatch(text):
        if not found.group("key").lower().endswith(BACKGROUND_SUFFIXES):
            raise ValueError(
                f"background object {text!r} needs an image or video suffix: {' '.join(BACKGROUND_SUFFIXES)}"
            )
        return text
    raise ValueError(f"unknown background {spec!r}: {SPEC_HELP}")


BackgroundSpec = Annotated[str, AfterValidator(_check_background)]
OutputFormat = Literal["mp4", "webm", "mov"]


OPTIONS_EXAMPLE = {"background": "blur", "output_format": "mp4", "model": "selfie", "heroes": 5}


class JobOptions(Model):
    """How a job renders; every field has a default, so ``{}`` is a valid choice."""

    background: BackgroundSpec = Field(
        default="blur",
        description="The new background, the SPEC the CLI takes: " + SPEC_HELP + ".",
        examples=["blur", "blur:20", "#00FF00", "white", "transparent", "s3://backdrop-uploads/beach.jpg"],
    )
    output_format: OutputFormat = Field(
        default="mp4",
        description="Container and codec of the result: mp4 (H.264 with audio), webm (VP9, keeps "
        "transparency) or mov (ProRes 4444, keeps transparency).",
        examples=["mp4", "webm"],
    )
    model: str = Field(
        default="selfie",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Name of a segmentation model the workers have installed.",
        examples=["selfie", "selfie-landscape"],
    )
    heroes: int = Field(
        default=5,
        ge=0,
        le=20,
        description="How many hero stills (the sharpest, best-exposed frames) to keep; 0 keeps none.",
        examples=[5, 0],
    )

    @model_validator(mode="after")
    def _alpha_needs_alpha_output(self) -> JobOptions:
        if self.background.lower() == "transparent" and self.output_format == "mp4":
            raise ValueError(
                "mp4 cannot hold transparency: choose output_format webm or mov, "
                "or a background colour, image, video or blur"
            )
        return self
