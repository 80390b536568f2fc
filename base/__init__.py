"""The bottom layer: errors, settings, URL safety, guarded HTTP, process helpers; imports nothing of ours."""

__version__ = "0.1.0"
