"""Composite stage: put the matted foreground over a new background (or keep it transparent)."""

from agents.composite.background import (
    Background,
    BackgroundSpec,
    Blur,
    Colour,
    ImageFile,
    Transparent,
    VideoFile,
    open_background,
    parse_background,
)
from agents.composite.core import composite

__all__ = [
    "Background",
    "BackgroundSpec",
    "Blur",
    "Colour",
    "ImageFile",
    "Transparent",
    "VideoFile",
    "composite",
    "open_background",
    "parse_background",
]
