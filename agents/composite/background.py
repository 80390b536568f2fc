"""Background SPECs (#RRGGBB, a colour name, an image, a video, blur[:sigma], transparent) and pixels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np
from PIL import ImageColor

from backdrop.errors import CorruptInput, InputError, InputNotFound

U8 = np.ndarray

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}


@dataclass(frozen=True)
class Colour:
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class ImageFile:
    path: Path
    fit: Literal["cover", "contain"] = "cover"


@dataclass(frozen=True)
class VideoFile:
    """Played from its start; trimmed to the clip's length, looped when shorter."""

    path: Path


@dataclass(frozen=True)
class Blur:
    sigma: float = 12.0


@dataclass(frozen=True)
class Transparent:
    pass


BackgroundSpec = Colour | ImageFile | VideoFile | Blur | Transparent

SPEC_HELP = (
    "use #RRGGBB, a colour name (e.g. 'white'), an image or video path (prefix 'contain:' to letterbox "
    "an image instead of filling the frame), 'blur' or 'blur:SIGMA', or 'transparent'"
)


def parse_background(spec: str) -> BackgroundSpec:
    """Turn a user's SPEC into a typed background; a spec that fits nothing raises InputError."""
    text = spec.strip()
    lowered = text.lower()
    if lowered == "transparent":
        return Transparent()
    if lowered == "blur" or lowered.startswith("blur:"):
        try:
            sigma = float(text.split(":", 1)[1]) if ":" in text else Blur.sigma
        except ValueError:
            raise InputError(f"bad blur strength in {spec!r}: {SPEC_HELP}") from None
        if not 0 < sigma <= 200:
            raise InputError(f"blur sigma must be in (0, 200]; got {sigma}")
        return Blur(sigma)
    fit: Literal["cover", "contain"] = "cover"
    for prefix in ("contain:", "cover:"):
        if lowered.startswith(prefix):
            fit, text = prefix[:-1], text[len(prefix) :]  # type: ignore[assignment]
    path = Path(text).expanduser()
    if path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
        if not path.is_file():
            raise InputNotFound(f"background file {path} does not exist")
        return ImageFile(path, fit) if path.suffix.lower() in IMAGE_SUFFIXES else VideoFile(path)
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise InputError(f"unknown background {spec!r}: {SPEC_HELP}") from None
    return Colour((rgb[0], rgb[1], rgb[2]))


def fit_image(image: U8, width: int, height: int, fit: Literal["cover", "contain"]) -> U8:
    """Scale ``image`` [h,w,3] to fill (cover: crop the overflow) or fit inside (contain: black bars)."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h) if fit == "cover" else min(width / w, height / h)
    new_w, new_h = max(width if fit == "cover" else 1, round(w * scale)), max(1, round(h * scale))
    if fit == "cover":
        new_w, new_h = max(new_w, width), max(new_h, height)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    if fit == "cover":
        x, y = (new_w - width) // 2, (new_h - height) // 2
        return np.ascontiguousarray(resized[y : y + height, x : x + width])
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - new_w) // 2, (height - new_h) // 2
    canvas[y : y + new_h, x : x + new_w] = resized
    return canvas


class Background:
    """Background pixels for frames of one clip; ``None`` from ``frames`` means keep alpha (transparent)."""

    def __init__(self, spec: BackgroundSpec, width: int, height: int, fps: Fraction) -> None:
        self.spec, self.width, self.height, self.fps = spec, width, height, fps
        self._still: U8 | None = None
        self._video: _LoopingVideo | None = None
        if isinstance(spec, Colour):
            self._still = np.empty((height, width, 3), np.uint8)
            self._still[:] = spec.rgb
        elif isinstance(spec, ImageFile):
            self._still = fit_image(_read_image(spec.path), width, height, spec.fit)
        elif isinstance(spec, VideoFile):
            self._video = _LoopingVideo(spec.path, width, height)

    @property
    def transparent(self) -> bool:
        return isinstance(self.spec, Transparent)

    def frames(self, indices: np.ndarray, source: U8, alpha: U8 | None = None) -> U8 | None:
        """Background for frames ``indices`` of the clip.

        ``source`` [T,H,W,3] is the original and ``alpha`` [T,H,W] its matte: a blurred background is
        blurred from the original with the person left out, so no glow of them spreads around them.
        """
        if self._still is not None:
            return self._still
        if isinstance(self.spec, Blur):
            mattes = alpha if alpha is not None else [None] * len(source)
            return np.stack(
                [_blurred(frame, self.spec.sigma, a) for frame, a in zip(source, mattes, strict=True)]
            )
        if self._video is not None:
            return np.stack([self._video.at(Fraction(int(i)) / self.fps) for i in indices])
        return None

    def close(self) -> None:
        if self._video is not None:
            self._video.close()


def open_background(spec: str | BackgroundSpec, width: int, height: int, fps: Fraction) -> Background:
    return Background(parse_background(spec) if isinstance(spec, str) else spec, width, height, fps)


def _read_image(path: Path) -> U8:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise CorruptInput(f"cannot read background image {path}: not an image, or damaged")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _blurred(frame: U8, sigma: float, alpha: U8 | None) -> U8:
    # Blur at a quarter of the size: the same look for a large sigma at ~1/16 of the cost.
    h, w = frame.shape[:2]
    factor = 4 if sigma >= 4 else 1
    size = (max(1, w // factor), max(1, h // factor))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    if alpha is None:
        blurred = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    else:
        # Normalised convolution: average only the background's pixels, weighted by 1 − alpha; where the
        # person covers the whole window the weights vanish and the plain blur fills in.
        weight = 1.0 - cv2.resize(alpha, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        total = cv2.GaussianBlur(weight, (0, 0), sigma / factor)
        weighted = cv2.GaussianBlur(small * weight[..., None], (0, 0), sigma / factor)
        plain = cv2.GaussianBlur(small, (0, 0), sigma / factor)
        trust = np.clip(total * 4, 0, 1)[..., None]  # enough background under the window to rely on
        blurred = trust * weighted / np.maximum(total, 1e-3)[..., None] + (1 - trust) * plain
    result: U8 = cv2.resize(
        np.clip(blurred + 0.5, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR
    )
    return result


class _LoopingVideo:
    """Frames of a background video by clip time: looped when shorter, read forward, seeks when asked back."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        self.path, self.width, self.height = path, width, height
        try:
            self.container = av.open(str(path))
            stream = self.container.streams.video[0]
        except (av.FFmpegError, IndexError) as exc:
            raise CorruptInput(f"cannot read background video {path}: {exc}") from exc
        stream.thread_type = "AUTO"
        self.stream = stream
        # Exact fractions: a float clock drifts a frame early at every loop seam.
        duration = Fraction(0)
        if stream.duration and stream.time_base:
            duration = stream.duration * Fraction(stream.time_base)
        elif self.container.duration:
            duration = Fraction(self.container.duration, av.time_base)
        if duration <= 0:
            raise CorruptInput(f"background video {path} has no duration")
        self.duration = duration
        self._frames = self._decode()
        self._current: tuple[Fraction, U8] | None = None
        self._next: tuple[Fraction, U8] | None = None

    def _decode(self) -> Iterator[tuple[Fraction, av.VideoFrame]]:
        start = self.stream.start_time or 0
        for frame in self.container.decode(self.stream):
            if frame.pts is None or frame.time_base is None:
                continue
            yield (frame.pts - start) * Fraction(frame.time_base), frame

    def _advance(self) -> tuple[Fraction, U8] | None:
        try:
            time, frame = next(self._frames)
        except StopIteration:
            return None
        return time, fit_image(frame.to_ndarray(format="rgb24"), self.width, self.height, "cover")

    def at(self, clip_time: Fraction) -> U8:
        target = clip_time % self.duration
        if self._current is None or target < self._current[0]:
            self.container.seek(0, stream=self.stream)
            self._frames = self._decode()
            self._current, self._next = self._advance(), None
            if self._current is None:
                raise CorruptInput(f"background video {self.path} has no decodable frames")
        while True:
            if self._next is None:
                self._next = self._advance()
            if self._next is None or self._next[0] > target:
                return self._current[1]
            self._current, self._next = self._next, None

    def close(self) -> None:
        self.container.close()
