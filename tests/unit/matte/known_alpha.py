"""A synthetic clip whose true alpha and foreground are known: the astronaut moving over a moving texture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage import data

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "selfie-reference" / "astronaut_model0.npz"


@dataclass(frozen=True)
class KnownClip:
    """Frames made with the compositing equation, with everything that made them."""

    frames: np.ndarray  # [T, H, W, 3] uint8 RGB, I = alpha * F + (1 - alpha) * B (+ sensor noise)
    alpha: np.ndarray  # [T, H, W] float32 true alpha in [0, 1]
    foreground: np.ndarray  # [T, H, W, 3] float32 true foreground colour F in [0, 255]
    probs: np.ndarray  # [T, h, w] float32 synthetic model output
    fg_moving: np.ndarray  # [T] bool: the foreground moved since the previous frame
    bg_moving: np.ndarray  # [T] bool: the background moved since the previous frame


def _true_alpha() -> np.ndarray:
    """The reference mask, lightly sharpened: a soft but fixed alpha."""
    mask = np.load(REFERENCE)["mask"].astype(np.float32)  # [512, 512]
    return np.clip((mask - 0.5) * 1.5 + 0.5, 0.0, 1.0)


def _true_foreground(alpha: np.ndarray) -> np.ndarray:
    """The photo's colours, continued outward from the solid person into its soft edge and a margin beyond.

    The photo's pixels at the soft edge still hold its studio backdrop; a real foreground (hair, skin) keeps
    its own colour there, which is what the stage must recover.
    """
    photo = data.astronaut()  # [512, 512, 3] uint8
    solid = alpha >= 0.98
    near = cv2.dilate(np.uint8(alpha > 0.0), np.ones((25, 25), np.uint8)) > 0
    fill = (near & ~solid).astype(np.uint8)
    return cv2.inpaint(photo, fill, 3, cv2.INPAINT_TELEA).astype(np.float32)  # [512, 512, 3]


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Colourful smooth blobs plus fine grain, so old-background colours show at the edges."""
    coarse = rng.random((height // 16 + 2, width // 16 + 2, 3), dtype=np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = cv2.GaussianBlur(rng.random((height, width, 3), dtype=np.float32), (0, 0), 1.0)
    return np.clip(smooth * 230.0 + (grain - 0.5) * 80.0, 0.0, 255.0)  # [h, w, 3] float32


def _warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], border: int) -> np.ndarray:
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=border)


def _model_output(
    alpha: np.ndarray, rng: np.random.Generator, model_size: tuple[int, int], flicker: float
) -> np.ndarray:
    """Area-downsampled, blurred, jittered and noisy: how a small segmentation model's output behaves."""
    width, height = model_size
    probs = np.empty((alpha.shape[0], height, width), np.float32)
    for t, a in enumerate(alpha):
        p = cv2.GaussianBlur(cv2.resize(a, model_size, interpolation=cv2.INTER_AREA), (0, 0), 1.0)
        shift = rng.normal(0.0, 0.3 * flicker, 2)
        p = cv2.warpAffine(
            p, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), model_size, borderMode=cv2.BORDER_REPLICATE
        )
        edge = 4.0 * p * (1.0 - p)
        field = cv2.resize(rng.normal(0.0, 1.0, (height // 16, width // 16)).astype(np.float32), model_size)
        breathe = rng.normal(0.0, 0.15 * flicker)
        probs[t] = np.clip(p + edge * (breathe + 0.15 * flicker * field) + 0.01 * flicker * field, 0.0, 1.0)
    return probs


def known_clip(
    seed: int = 0,
    size: tuple[int, int] = (640, 360),
    frames: int = 32,
    model_size: tuple[int, int] = (256, 256),
    flicker: float = 1.0,
    still: int = 8,
) -> KnownClip:
    """The clip: the first `still` frames are static, then the person moves, and later the camera pans."""
    rng = np.random.default_rng(seed)
    width, height = size
    # the body continues below the photo's bottom edge; nothing lies beside it
    alpha_src = _true_alpha()
    fg_src = np.pad(_true_foreground(alpha_src), ((0, 128), (0, 0), (0, 0)), mode="edge")
    alpha_src = np.pad(alpha_src, ((0, 128), (0, 0)), mode="edge")
    scale = 0.85 * height / 512.0
    bg_src = _texture(rng, height + 64, width + 64)
    pan_start = frames // 2
    out_frames = np.empty((frames, height, width, 3), np.uint8)
    out_alpha = np.empty((frames, height, width), np.float32)
    out_fg = np.empty((frames, height, width, 3), np.float32)
    fg_moving = np.zeros(frames, bool)
    bg_moving = np.zeros(frames, bool)
    for t in range(frames):
        moved = max(0, t - still)
        # sub-pixel motion with a little acceleration, the source bottom kept below the frame's bottom edge
        dx = 0.25 * width + 1.7 * moved + 0.02 * moved**2
        dy = height - 512.0 * scale + 8.0 + 0.6 * np.sin(0.4 * moved)
        fg_matrix = np.float32([[scale, 0, dx], [0, scale, dy]])
        panned = max(0, t - pan_start)
        bg_matrix = np.float32([[1, 0, -8.0 - 0.73 * panned], [0, 1, -8.0 - 0.31 * panned]])
        a = np.clip(_warp(alpha_src, fg_matrix, size, cv2.BORDER_CONSTANT), 0.0, 1.0)
        f = _warp(fg_src, fg_matrix, size, cv2.BORDER_REPLICATE)
        b = _warp(bg_src, bg_matrix, size, cv2.BORDER_REPLICATE)
        image = a[..., None] * f + (1.0 - a[..., None]) * b + rng.normal(0.0, 1.5, f.shape)
        out_frames[t] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        out_alpha[t], out_fg[t] = a, f
        fg_moving[t], bg_moving[t] = t > still, t > pan_start
    probs = _model_output(out_alpha, rng, model_size, flicker)
    return KnownClip(out_frames, out_alpha, out_fg, probs, fg_moving, bg_moving)
