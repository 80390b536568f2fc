"""Background pixels for a clip: a colour, an image, a video, the blurred original, or none (transparent)."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Literal, assert_never

import av
import cv2
import numpy as np

from agents.pixels import shrink
from base.errors import CorruptInput, InputError, InputNotFound
from schemas.background import Asset, Background, Blur, Colour, Image, Transparent, Video

U8 = np.ndarray


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


class BackgroundPixels:
    """Background pixels for frames of one clip; ``None`` from ``frames`` means keep alpha (transparent)."""

    def __init__(self, background: Background, width: int, height: int, fps: Fraction) -> None:
        self.background, self.width, self.height, self.fps = background, width, height, fps
        self._still: U8 | None = None
        self._video: _LoopingVideo | None = None
        match background:
            case Colour():
                self._still = np.empty((height, width, 3), np.uint8)
                self._still[:] = background.rgb
            case Image():
                self._still = fit_image(_read_image(_local_file(background)), width, height, background.fit)
            case Video():
                self._video = _LoopingVideo(_local_file(background), width, height, background.fit)
            case Blur() | Transparent():
                pass  # drawn per frame from the source, or none at all
            case Asset():
                raise InputError(
                    f"the background {background.spec} is an uploaded asset, which only a pipeline job "
                    "through the API (or a signed submit naming its owner) can use; give a file here"
                )
            case _:  # e.g. a SPEC string: parse it at the boundary (schemas.parse_background)
                assert_never(background)

    @property
    def transparent(self) -> bool:
        return isinstance(self.background, Transparent)

    def frames(self, indices: np.ndarray, source: U8, alpha: U8 | None = None) -> U8 | None:
        """Background for frames ``indices`` of the clip.

        ``source`` [T,H,W,3] is the original and ``alpha`` [T,H,W] its matte: a blurred background is
        blurred from the original with the person left out, so no glow of them spreads around them.
        """
        if self._still is not None:
            return self._still
        if isinstance(self.background, Blur):
            sigma = self.background.sigma
            mattes = alpha if alpha is not None else [None] * len(source)
            return self._stacked([_blurred(frame, sigma, a) for frame, a in zip(source, mattes, strict=True)])
        if self._video is not None:
            return self._stacked([self._video.at(Fraction(int(i)) / self.fps) for i in indices])
        return None

    def _stacked(self, frames: list[U8]) -> U8:
        """[T, H, W, 3]; np.stack refuses an empty selection, which has no background to draw."""
        return np.stack(frames) if frames else np.empty((0, self.height, self.width, 3), np.uint8)

    def close(self) -> None:
        if self._video is not None:
            self._video.close()


def open_background(background: Background, width: int, height: int, fps: Fraction) -> BackgroundPixels:
    """Open ``background`` for a clip of this size and rate; its image or video must be a local file."""
    return BackgroundPixels(background, width, height, fps)


def _local_file(background: Image | Video) -> Path:
    if background.s3_object is not None:
        # The worker fetches an object to local disk and hands over a copy that points there.
        raise InputNotFound(
            f"background {background.ref} is in the object store: fetch it to a local file first"
        )
    path = Path(background.ref).expanduser()
    if not path.is_file():
        raise InputNotFound(f"background file {path} does not exist")
    return path


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
    small = shrink(frame, size).astype(np.float32)
    blurred: np.ndarray = cv2.GaussianBlur(small, (0, 0), sigma / factor)  # [h, w, 3] float32
    if alpha is not None:
        # Normalised convolution: average only the background's pixels, weighted by 1 − alpha; where the
        # person covers the whole window the weights vanish and the plain blur fills in.
        weight = 1.0 - shrink(alpha, size).astype(np.float32) / 255
        total = cv2.GaussianBlur(weight, (0, 0), sigma / factor)
        weighted: np.ndarray = cv2.GaussianBlur(small * weight[..., None], (0, 0), sigma / factor)
        trust = np.clip(total * 4, 0, 1)[..., None]  # enough background under the window to rely on
        weighted /= np.maximum(total, 1e-3)[..., None]
        weighted -= blurred
        weighted *= trust
        blurred += weighted  # trust · weighted mean + (1 − trust) · plain blur
    result: U8 = cv2.resize(
        np.clip(blurred + 0.5, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR
    )
    return result


class _LoopingVideo:
    """Frames of a background video by clip time: looped when shorter, read forward, seeks when asked back."""

    def __init__(self, path: Path, width: int, height: int, fit: Literal["cover", "contain"]) -> None:
        self.path, self.width, self.height, self.fit = path, width, height, fit
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
        return time, fit_image(frame.to_ndarray(format="rgb24"), self.width, self.height, self.fit)

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
