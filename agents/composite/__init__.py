"""Composite stage: put the matted foreground over a new background (or keep it transparent)."""

from agents.composite.background import BackgroundPixels, open_background
from agents.composite.core import composite

__all__ = ["BackgroundPixels", "composite", "open_background"]
