"""The clock an output's frames are stamped with: the source's own, unless it cannot express the source's
frame rate.

Matroska counts in milliseconds, so a 30 fps file stamps its frames 33, 67, 100 ms …: its frame rate is
exactly 30 but no step is 1/30 s. Copied as they are into an MP4 or MOV, those stamps make a 29.992 fps,
variable-rate video. For a constant-rate source whose clock cannot hold one frame's duration exactly, the
output's stamps are the same instants snapped to the frame grid (at most half a tick away, under 1 ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from agents.extract.probe import MediaInfo


@dataclass(frozen=True)
class OutputClock:
    """Output time base and the source-to-output timestamp mapping."""

    time_base: Fraction
    snap: Fraction | None = None  # source ticks → frame slots (multiply, round); None: stamps unchanged
    slot: int = 1  # output ticks per frame slot

    def stamps(self, pts: np.ndarray) -> np.ndarray:
        """[T] int64 source pts → [T] int64 output pts."""
        if self.snap is None:
            return pts
        return np.array([round(int(p) * self.snap) * self.slot for p in pts], np.int64)


def output_clock(info: MediaInfo, pts: Sequence[int] | None) -> OutputClock:
    """The clock for ``info``'s frames, whose presentation timestamps are ``pts`` (None: unknown)."""
    keep = OutputClock(info.time_base)
    if info.variable_frame_rate or info.is_image or not pts:
        return keep
    frame_ticks = 1 / (info.fps * info.time_base)
    if frame_ticks.denominator == 1 or frame_ticks < 2:
        return keep  # the source clock holds a frame exactly, or is too coarse to snap from
    clock = OutputClock(Fraction(1, info.fps.numerator), info.time_base * info.fps, info.fps.denominator)
    slots = clock.stamps(np.asarray(sorted(pts), np.int64))
    # Constant rate in the first packets (what probe samples) but not throughout: keep the source's stamps.
    return clock if bool((np.diff(slots) > 0).all()) else keep
