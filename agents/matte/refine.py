"""The matte stage core: low-resolution person probability → full-resolution alpha and foreground colour."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from agents.matte import foreground, guided, kernels, temporal
from agents.pixels import shrink
from base.errors import InputEmpty, InternalError
from schemas.options import Quality


@dataclass(frozen=True)
class MatteParams:
    """Tuning of `refine`; the defaults were chosen by measurement (see tests/unit/matte)."""

    work_long_side: int = 320
    """Long side, in pixels, of the scale where the guided filter is fitted and the probability smoothed."""
    radius: int = 2
    """Guided-filter box radius at the working scale."""
    eps: float = 1e-3
    """Guided-filter regularisation on [0, 1] colours: larger follows the probability, smaller the colours."""
    alpha_range: tuple[float, float] = (0.02, 0.98)
    """Filtered values at or below the first become 0, at or above the second 1, linear between."""
    still_weight: float = 0.3
    """Weight of the new probability where nothing moves (1 disables temporal smoothing)."""
    motion_levels: tuple[float, float] = (2.0, 8.0)
    """Mean absolute grey change (0..255) at which a pixel starts to count as moving, and fully moving."""
    jump_levels: tuple[float, float] = (0.4, 0.8)
    """Probability change at which a pixel starts to count as changed, and fully changed."""
    motion_radius: int = 2
    """Box radius, at the working scale, over which the frame difference is averaged."""
    fg_coarse_radius: int = 16
    """Blur-fusion first-pass radius at the working scale."""
    fg_fine_radius: int = 1
    """Blur-fusion second-pass radius at the working scale."""
    tile: int = 8
    """Side of the full-resolution tiles; only tiles that may hold partial alpha get per-pixel arithmetic."""


# The matte of each quality preset. draft works at a smaller scale, ~35% fewer pixels through the guided
# filter; on the hand-traced astronaut it scored as standard does (IoU 0.989/0.983, MAD 0.009/0.015 over
# rocket/brick). A larger working scale (400–512) or radius (3–4) scored no better there (MAD 0.0092–0.0097),
# so high keeps the standard matte and spends its time on the encoder.
MATTE_PRESETS: dict[Quality, MatteParams] = {
    "draft": MatteParams(work_long_side=256),
    "standard": MatteParams(),
    "high": MatteParams(),
}


@dataclass(frozen=True)
class MatteState:
    """What the next frame needs from the previous one."""

    prob: np.ndarray  # [h, w] float32 smoothed probability at the working scale
    grey: np.ndarray  # [h, w] uint8 grey frame at the working scale


def _check(frames: np.ndarray, probs: np.ndarray, cuts: np.ndarray | None) -> None:
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise InternalError(
            f"matte needs frames as uint8 [T, H, W, 3] RGB, got {frames.dtype} {frames.shape}; "
            "decode to RGB24 first"
        )
    if probs.ndim != 3 or probs.dtype != np.float32:
        raise InternalError(
            f"matte needs probabilities as float32 [T, h, w], got {probs.dtype} {probs.shape}"
        )
    if frames.shape[0] == 0:
        raise InputEmpty("matte got a chunk with no frames; skip empty chunks before the matte stage")
    if 0 in frames.shape[1:3] or 0 in probs.shape[1:]:
        # decoders and models never yield a picture without pixels: whoever built these arrays has a bug
        raise InternalError(
            f"matte got frames {frames.shape[1:3]} and probability maps {probs.shape[1:]} without pixels"
        )
    if probs.shape[0] != frames.shape[0]:
        raise InternalError(
            f"matte got {frames.shape[0]} frames but {probs.shape[0]} probability maps; "
            "re-run the segment stage for this chunk"
        )
    if cuts is not None and cuts.shape != (frames.shape[0],):
        raise InternalError(
            f"matte got cuts of shape {cuts.shape} for {frames.shape[0]} frames; re-run the score stage"
        )


def _clamped(probs: np.ndarray) -> np.ndarray:
    """The maps clamped to [0, 1], NaN as 0: [T, h, w] float32, a copy at the model's (small) size."""
    # A NaN is a model that gave no answer for a pixel (fp16 overflow in an accelerated backend, say). It
    # counts as background rather than failing the job: the user's input is not at fault, the worst it costs
    # is a few missing pixels of the person, and left in, one NaN spreads through the guided filter's boxes
    # and then, through the smoothing state, into every later frame of the chunk. ±inf and values past either
    # end are certain answers: the nearest end.
    clamped: np.ndarray = np.nan_to_num(probs, nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(clamped, 0.0, 1.0, out=clamped)
    return clamped


def _working_size(height: int, width: int, params: MatteParams = MatteParams()) -> tuple[int, int]:
    """The working scale (w, h) for frames of ``height``×``width``."""
    scale = min(1.0, params.work_long_side / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def reduced(frames: np.ndarray, params: MatteParams = MatteParams()) -> np.ndarray:
    """Frames [T, H, W, 3] uint8 at the working scale, as `refine` makes them: [T, h, w, 3] uint8."""
    work = _working_size(frames.shape[1], frames.shape[2], params)
    small = np.empty((frames.shape[0], work[1], work[0], 3), np.uint8)
    for i, frame in enumerate(frames):
        small[i] = shrink(frame, work)
    return small


def refine(
    frames: np.ndarray,
    probs: np.ndarray,
    state: MatteState | None,
    cuts: np.ndarray | None = None,
    params: MatteParams = MatteParams(),
    small: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, MatteState]:
    """Refine a chunk: alpha [T, H, W] uint8, foreground colour [T, H, W, 3] uint8, state for the next."""
    # frames: [T, H, W, 3] uint8 RGB; probs: [T, h, w] float32 in [0, 1] (others clamped, NaN as 0), each
    # covering the whole frame at any size or aspect; state: from the previous chunk's refine, or None to
    # start fresh; cuts: [T] bool, True where a scene cut lies before frame t (the smoothing restarts there);
    # small: the frames at the working scale where the caller has them already (`reduced`), else made here
    _check(frames, probs, cuts)
    probs = _clamped(probs)
    count, height, width = frames.shape[:3]
    small = _working_frames(frames, small, params)
    _check_state(state, small)
    alphas = np.empty((count, height, width), np.uint8)
    fgs = frames.copy()  # where alpha is 0 or 255 the foreground colour is the frame's
    tables = _Tables.build((height, width), (small.shape[2], small.shape[1]))
    for t, last in enumerate(_states(small, probs, state, cuts, params)):
        _fill(frames[t], small[t], last.prob, params, tables, alphas[t], fgs[t])
    return alphas, fgs, last


def settle(
    small: np.ndarray,
    probs: np.ndarray,
    state: MatteState | None,
    cuts: np.ndarray | None = None,
    params: MatteParams = MatteParams(),
) -> MatteState:
    """The state `refine` leaves after these frames, given at the working scale (`reduced`), without their
    alpha and foreground: for a chunk's warm-up frames, whose pictures nobody keeps. Under a tenth of
    `refine`'s work."""
    _check(small, probs, cuts)
    probs = _clamped(probs)
    _check_state(state, small)
    *_, last = _states(small, probs, state, cuts, params)
    return last


def _states(
    small: np.ndarray,
    probs: np.ndarray,
    state: MatteState | None,
    cuts: np.ndarray | None,
    params: MatteParams,
) -> Iterator[MatteState]:
    """The state each frame leaves, in turn: the smoothing runs on from frame to frame, anew at a cut."""
    for t in range(small.shape[0]):
        state = _smoothed(small[t], probs[t], None if cuts is not None and cuts[t] else state, params)
        yield state


def _working_frames(frames: np.ndarray, small: np.ndarray | None, params: MatteParams) -> np.ndarray:
    if small is None:
        return reduced(frames, params)
    work = _working_size(frames.shape[1], frames.shape[2], params)
    if small.shape != (frames.shape[0], work[1], work[0], 3) or small.dtype != np.uint8:
        raise InternalError(
            f"matte got reduced frames {small.dtype} {small.shape} for frames {frames.shape}; the working "
            f"scale is {work}: make them with agents.matte.reduced"
        )
    return small


def _check_state(state: MatteState | None, small: np.ndarray) -> None:
    """A state carried in must have been made at these frames' working scale."""
    if state is not None and state.prob.shape != small.shape[1:3]:
        raise InternalError(
            f"matte state is for a {state.prob.shape[::-1]} working size, this chunk needs "
            f"{small.shape[2:0:-1]}; start the chunk with state=None"
        )


def _smoothed(
    small: np.ndarray, prob: np.ndarray, state: MatteState | None, params: MatteParams
) -> MatteState:
    """The state one frame leaves, whose probability is the smoothed one the guided filter fits."""
    # small: [h, w, 3] uint8, the frame at the working scale; prob: [h_model, w_model] float32
    work = (small.shape[1], small.shape[0])
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    prob = cv2.resize(prob, work, interpolation=cv2.INTER_LINEAR)  # [h, w] float32
    if state is not None:
        weight = temporal.blend_weight(
            grey,
            state.grey,
            prob,
            state.prob,
            params.still_weight,
            params.motion_levels,
            params.jump_levels,
            params.motion_radius,
        )
        prob = temporal.stabilise(prob, state.prob, weight)
    return MatteState(prob=prob, grey=grey)


def _fill(
    frame: np.ndarray,
    small: np.ndarray,
    prob: np.ndarray,
    params: MatteParams,
    tables: _Tables,
    alpha: np.ndarray,
    fg: np.ndarray,
) -> None:
    """Fill `alpha` [H, W] and `fg` [H, W, 3] (which holds the frame) for one frame from its reduced copy
    and smoothed probability at the working scale."""
    coef = guided.fit(small, prob, params.radius, params.eps)  # [h, w, 4]
    low, high = params.alpha_range
    gain = np.float32(255.0 / (high - low))
    small_alpha = kernels.alpha_of(coef, small, np.float32(low), gain).astype(np.float32)
    small_alpha *= np.float32(1 / 255)
    means = foreground.local_colours(small, small_alpha, params.fg_coarse_radius, params.fg_fine_radius)
    # a tile needs full-size arithmetic unless every coefficient it reads gives 0 (or 1) for any colour
    lows, highs = guided.saturation(coef, np.float32(low), np.float32(high))  # [h, w] bool each
    active, fill = kernels.tile_activity(lows, highs, tables.rows, tables.cols, params.tile)
    kernels.apply_full(
        frame,
        coef,
        means,
        active,
        fill,
        tables.rows,
        tables.cols,
        params.tile,
        np.float32(low),
        gain,
        alpha,
        fg,
    )


@dataclass(frozen=True)
class _Tables:
    """Bilinear interpolation from the working scale to full resolution, per row and per column."""

    rows: tuple[np.ndarray, np.ndarray, np.ndarray]
    cols: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    def build(cls, full: tuple[int, int], work: tuple[int, int]) -> _Tables:
        """Tables from (H, W) to a working size (w, h)."""
        return cls(kernels.bilinear_table(full[0], work[1]), kernels.bilinear_table(full[1], work[0]))


def warm_up() -> None:
    """Compile the stage's loops now rather than on the first chunk (numba keeps them in its disk cache)."""
    frames = np.zeros((2, 40, 56, 3), np.uint8)
    frames[:, :, 28:] = 200
    probs = np.zeros((2, 10, 14), np.float32)
    probs[:, :, 7:] = 1.0  # an edge: every path through the full-resolution pass runs
    refine(frames, probs, None)
