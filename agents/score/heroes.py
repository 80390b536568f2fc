"""Hero frames: the best still of each equal stretch of the clip, kept while streaming (memory: N images)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from base.errors import InternalError


@dataclass
class _Slot:
    index: int = -1
    quality: float = float("-inf")
    image: np.ndarray | None = None


class HeroPicker:
    """Split ``total_frames`` into ``count`` equal stretches and keep the best-scoring frame of each.

    One per stretch spreads the stills over the clip instead of picking ten near-identical neighbours.
    """

    def __init__(self, total_frames: int, count: int = 5) -> None:
        if total_frames < 1 or count < 1:
            raise InternalError("total_frames and count must be at least 1")
        self.total_frames = total_frames
        self.slots = [_Slot() for _ in range(min(count, total_frames))]

    def offer(self, index: int, quality: float, image: np.ndarray) -> None:
        """Consider frame ``index``; the image is copied only when it becomes a slot's best."""
        slot = self.slots[min(index * len(self.slots) // self.total_frames, len(self.slots) - 1)]
        if quality > slot.quality:
            slot.index, slot.quality, slot.image = index, quality, image.copy()

    def heroes(self) -> list[tuple[int, np.ndarray]]:
        """(frame index, image) of each stretch that saw a frame, in clip order."""
        return [(s.index, s.image) for s in self.slots if s.image is not None]
