"""Per-frame measurements on a small grey copy of each frame, with the previous frame carried as state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from agents.pixels import shrink
from base.errors import InternalError


@dataclass(frozen=True)
class ScoreParams:
    # Measuring on a ~320 px wide copy is ~15× cheaper than full 720p and ranks frames the same way.
    analysis_width: int = 320
    # Bhattacharyya distance between consecutive hue/saturation histograms above which a cut is declared.
    cut_threshold: float = 0.45
    # A second cut within this many frames is a flash or fast pan, not a new scene.
    min_scene_frames: int = 8


@dataclass
class ScoreState:
    """What the next batch needs from the previous one."""

    prev_grey: np.ndarray | None = None  # [h, w] analysis-size grey frame
    prev_hist: np.ndarray | None = None  # [16, 16] hue/saturation histogram
    frames_since_cut: int = 1 << 30


@dataclass(frozen=True)
class FrameScores:
    sharpness: np.ndarray  # [T] variance of the Laplacian (analysis size, grey 0..255)
    motion: np.ndarray  # [T] mean absolute grey difference to the previous frame, 0..1
    exposure: np.ndarray  # [T] mean luma, 0..1
    clipped: np.ndarray  # [T] fraction of pixels crushed to black or blown to white
    cut: np.ndarray  # [T] bool, a new scene starts here

    def quality(self) -> np.ndarray:
        """One number per frame for picking stills: sharp, still, well exposed."""
        exposure_ok = 1.0 - np.abs(self.exposure - 0.5) * 2.0
        return np.asarray(
            np.log1p(self.sharpness)
            * (1.0 - np.minimum(self.motion * 10.0, 0.9))
            * (0.25 + 0.75 * exposure_ok)
            * (1.0 - self.clipped),
            np.float32,
        )


def analysis_size(height: int, width: int, params: ScoreParams = ScoreParams()) -> tuple[int, int]:
    """The size (w, h) frames of ``height``×``width`` are scored at: ``params.analysis_width`` wide, or
    their own size when they are narrower."""
    if width <= params.analysis_width:
        return width, height
    return params.analysis_width, max(1, round(height * params.analysis_width / width))


def score(
    frames: np.ndarray,
    state: ScoreState | None = None,
    params: ScoreParams = ScoreParams(),
    small: np.ndarray | None = None,
) -> tuple[FrameScores, ScoreState]:
    """Score ``frames`` ([T, H, W, 3] uint8 RGB); ``state`` carries the previous frame across batches;
    ``small``: the frames already reduced to `analysis_size` by `agents.pixels.shrink`, else made here."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InternalError(f"frames must be uint8 [T, H, W, 3]; got {frames.dtype} {frames.shape}")
    height, width = frames.shape[1:3]
    if height == 0 or width == 0:
        # decoders never yield a picture without pixels: whoever built this array has a bug
        raise InternalError(f"frames {frames.shape} have no pixels")
    state = state or ScoreState()
    t = frames.shape[0]
    sharpness, motion = np.zeros(t, np.float32), np.zeros(t, np.float32)
    exposure, clipped = np.zeros(t, np.float32), np.zeros(t, np.float32)
    cut = np.zeros(t, bool)
    size = analysis_size(height, width, params)
    analysed = (size[1], size[0])
    if small is not None and small.shape != (t, *analysed, 3):
        raise InternalError(
            f"score got reduced frames {small.shape} for frames {frames.shape}; it needs {size}"
        )
    if state.prev_grey is not None and state.prev_grey.shape != analysed:
        raise InternalError(
            f"score state is for {state.prev_grey.shape} analysis frames, these need {analysed}; "
            "start a clip of another size with state=None"
        )
    prev_grey, prev_hist, since_cut = state.prev_grey, state.prev_hist, state.frames_since_cut
    reductions: Iterable[np.ndarray]
    if small is not None:
        reductions = small
    elif width > size[0]:
        reductions = (shrink(frame, size) for frame in frames)
    else:
        reductions = frames
    for i, reduced in enumerate(reductions):
        grey = cv2.cvtColor(reduced, cv2.COLOR_RGB2GRAY)
        hsv = cv2.cvtColor(reduced, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 16], [0, 180, 0, 256])
        cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)
        _, std = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))
        sharpness[i] = float(std[0, 0]) ** 2
        exposure[i] = float(grey.mean()) / 255.0
        clipped[i] = float(np.count_nonzero((grey <= 4) | (grey >= 251))) / grey.size
        since_cut += 1
        if prev_grey is not None and prev_hist is not None:
            motion[i] = float(cv2.absdiff(grey, prev_grey).mean()) / 255.0
            distance = cv2.compareHist(prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA)
            if distance > params.cut_threshold and since_cut >= params.min_scene_frames:
                cut[i] = True
                since_cut = 0
                motion[i] = 0.0  # the difference across a cut is not motion
        prev_grey, prev_hist = grey, hist
    return FrameScores(sharpness, motion, exposure, clipped, cut), ScoreState(prev_grey, prev_hist, since_cut)
