"""Matte stage: a low-resolution person probability becomes full-resolution alpha and foreground colour."""

from agents.matte.refine import MATTE_PRESETS, MatteParams, MatteState, reduced, refine, settle, warm_up

__all__ = ["MATTE_PRESETS", "MatteParams", "MatteState", "reduced", "refine", "settle", "warm_up"]
