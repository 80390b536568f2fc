"""The compositing equation, out = alpha·fg + (1 − alpha)·bg, in uint8 without float frames."""

from __future__ import annotations

import cv2
import numpy as np

from base.errors import InternalError

U8 = np.ndarray


def composite(fg: U8, alpha: U8, background: U8 | None) -> U8:
    """``fg`` [T,H,W,3], ``alpha`` [T,H,W] (255 = foreground), ``background`` [T,H,W,3], [H,W,3] or None.

    None keeps the result transparent: [T,H,W,4] RGBA (straight, not premultiplied, alpha).
    """
    if fg.ndim != 4 or fg.shape[3] != 3 or alpha.shape != fg.shape[:3]:
        raise InternalError(f"fg must be [T,H,W,3] and alpha [T,H,W]; got {fg.shape} and {alpha.shape}")
    if background is not None and background.shape not in (fg.shape, fg.shape[1:]):
        raise InternalError(f"background {background.shape} does not match the frames {fg.shape}")
    arrays = (fg, alpha) if background is None else (fg, alpha, background)
    if any(a.dtype != np.uint8 for a in arrays):
        raise InternalError(f"composite takes uint8 arrays; got {', '.join(str(a.dtype) for a in arrays)}")
    if background is None:
        return np.concatenate([fg, alpha[..., None]], axis=-1)
    out = np.empty_like(fg)
    if out.size == 0:
        return out  # an empty selection: nothing to mix, and OpenCV refuses empty arrays
    for t in range(fg.shape[0]):
        bg = background if background.ndim == 3 else background[t]
        a3 = cv2.merge([alpha[t], alpha[t], alpha[t]])
        # cv2 saturating multiply-with-scale: one rounding per term, exact at alpha 0 and 255;
        # ~1.7 ms per 720p frame against ~8.5 ms for the same sum in numpy uint16.
        cv2.add(
            cv2.multiply(fg[t], a3, scale=1 / 255),
            cv2.multiply(bg, cv2.bitwise_not(a3), scale=1 / 255),
            dst=out[t],
        )
    return out
