"""The matte → composite hand-off: the alpha, and the foreground colour only where it carries weight.

Compositing weighs the foreground colour by alpha: at alpha 0 it is not seen, and at alpha 255 refine
leaves it equal to the frame (the colour correction reduces to the frame itself there). So the frame plus
the colours of the partial-alpha pixels rebuild every composited pixel exactly. At 720p that is ~60 k
pixels a frame (~180 KB) instead of the full colour frame, found and put back in ~1 ms each way.
"""

from __future__ import annotations

import numpy as np

# One pixel's three colour bytes as one item: numpy gathers and scatters these twice as fast as [N, 3] rows.
PIXEL = np.dtype("V3")


def partial_pixels(alpha: np.ndarray) -> np.ndarray:
    """Flat indices (C order) of the pixels of ``alpha`` [..., W] uint8 strictly between 0 and 255."""
    # alpha − 1 wraps 0 round to 255, so one comparison finds 1..254; ~0.4 ms a 720p frame against
    # ~0.9 ms for cv2.inRange + cv2.findNonZero and the index arithmetic after it.
    shifted = np.subtract(alpha, 1, dtype=np.uint8)
    indices: np.ndarray = np.flatnonzero(shifted < 254)
    return indices


def _pixels(rgb: np.ndarray) -> np.ndarray:
    """A C-contiguous [..., 3] uint8 array as a flat array of pixels (a view)."""
    return rgb.reshape(-1).view(PIXEL)


def partial_colours(alpha: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """The foreground colour [N, 3] uint8 at the partial-alpha pixels of ``alpha`` [T, H, W]."""
    colours = np.take(_pixels(np.ascontiguousarray(fg)), partial_pixels(alpha))
    return colours.view(np.uint8).reshape(-1, 3)


def foreground(frames: np.ndarray, alpha: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """The foreground colour [T, H, W, 3] that composites like refine's: the frames, with ``colours``."""
    fg = np.array(frames, copy=True, order="C")
    np.put(_pixels(fg), partial_pixels(alpha), _pixels(np.ascontiguousarray(colours)))
    return fg
