"""Matte stage: a low-resolution person probability becomes full-resolution alpha and foreground colour."""

from agents.matte.refine import MatteParams, MatteState, refine

__all__ = ["MatteParams", "MatteState", "refine"]
