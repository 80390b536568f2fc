"""A realistic test clip made offline: a real photograph of a person moving over a moving photo, with sound.

The person is scikit-image's astronaut photo cut out with ``assets/astronaut_alpha.png`` (derived from
MediaPipe's selfie mask of that photo, holes filled, edge softened), so the true alpha of every frame is
known: tests and benchmarks compare the pipeline's alpha with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data

from base.errors import OutputError

U8 = np.ndarray
ALPHA_ASSET = Path(__file__).parent / "assets" / "astronaut_alpha.png"
AUDIO_RATE = 48_000


@dataclass(frozen=True)
class SampleFrame:
    index: int
    image: U8  # [H, W, 3] RGB
    alpha: U8  # [H, W] ground truth, 255 = person


class SampleScene:
    """The person sways and bobs in front of a slowly panning and zooming photo."""

    def __init__(self, width: int, height: int, fps: Fraction) -> None:
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError("the sample size must be even and at least 16×16")
        self.width, self.height, self.fps = width, height, fps
        person = skimage.data.astronaut()  # [512, 512, 3]
        alpha = cv2.imread(str(ALPHA_ASSET), cv2.IMREAD_GRAYSCALE)
        if alpha is None:
            raise FileNotFoundError(f"the sample's alpha asset is missing: {ALPHA_ASSET}; reinstall backdrop")
        scale = 0.92 * height / person.shape[0]
        size = (max(1, round(person.shape[1] * scale)), max(1, round(person.shape[0] * scale)))
        self.person_alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        person_rgb = cv2.resize(person, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        # Premultiplied colour: warping it with the alpha keeps the edge free of black fringes.
        self.person_premultiplied = person_rgb * self.person_alpha[..., None]
        backdrop = skimage.data.rocket()  # a real outdoor photo
        cover = max(1.3 * width / backdrop.shape[1], 1.3 * height / backdrop.shape[0])
        self.backdrop = cv2.resize(backdrop, None, fx=cover, fy=cover, interpolation=cv2.INTER_LINEAR).astype(
            np.float32
        )

    def frame(self, index: int) -> SampleFrame:
        t = index / float(self.fps)
        w, h = self.width, self.height
        # Background: pan left-right and zoom gently (an affine crop of the larger photo).
        bh, bw = self.backdrop.shape[:2]
        zoom = 1.0 + 0.05 * math.sin(t * 0.7)
        bx = (bw - w * zoom) * (0.5 + 0.45 * math.sin(t * 0.45))
        by = (bh - h * zoom) * (0.5 + 0.3 * math.cos(t * 0.3))
        to_frame = np.array([[1 / zoom, 0, -bx / zoom], [0, 1 / zoom, -by / zoom]], np.float32)
        background = cv2.warpAffine(self.backdrop, to_frame, (w, h), flags=cv2.INTER_LINEAR)
        # Person: sway sideways, bob, and lean a little; the feet of the photo stay at the bottom edge.
        ph, pw = self.person_alpha.shape
        cx = w / 2 + 0.18 * w * math.sin(t * 1.1)
        cy = h - ph / 2 + 0.03 * h * (1 + math.sin(t * 2.3))
        angle = 4.0 * math.sin(t * 0.9)
        move = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, 1.0)
        move[:, 2] += (cx - pw / 2, cy - ph / 2)
        alpha = cv2.warpAffine(self.person_alpha, move, (w, h), flags=cv2.INTER_LINEAR)
        colour = cv2.warpAffine(self.person_premultiplied, move, (w, h), flags=cv2.INTER_LINEAR)
        image = colour + background * (1.0 - alpha[..., None])
        return SampleFrame(
            index,
            np.clip(image + 0.5, 0, 255).astype(np.uint8),
            np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8),
        )

    def frames(self, count: int) -> Iterator[SampleFrame]:
        for index in range(count):
            yield self.frame(index)


def tone(start: int, count: int, rate: int = AUDIO_RATE) -> np.ndarray:
    """A soft two-note chord with a slow tremolo, [2, count] float32 planar stereo."""
    t = (np.arange(start, start + count, dtype=np.float64)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t)
    left = 0.2 * envelope * np.sin(2 * np.pi * 220.0 * t)
    right = 0.2 * envelope * np.sin(2 * np.pi * 277.18 * t)
    return np.stack([left, right]).astype(np.float32)


def write_sample(
    path: Path,
    *,
    seconds: float = 10.0,
    width: int = 1280,
    height: int = 720,
    fps: Fraction = Fraction(30),
    on_frame: object = None,
) -> int:
    """Write the sample clip (H.264 + AAC in MP4, or one PNG/JPEG still); returns the number of frames."""
    suffix = path.suffix.lower()
    if suffix not in {".png", ".jpg", ".jpeg", ".mp4", ".mov", ".mkv"}:
        raise OutputError(f"the sample is written as .mp4, .mov, .mkv, .png or .jpg; got {path.name!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {path.parent}: {exc.strerror}") from exc
    scene = SampleScene(width, height, fps)
    if suffix in {".png", ".jpg", ".jpeg"}:
        still = scene.frame(0).image
        if not cv2.imwrite(str(path), cv2.cvtColor(still, cv2.COLOR_RGB2BGR)):
            raise OutputError(f"cannot write {path}: check that the folder exists and is writable")
        return 1
    count = max(1, round(seconds * fps))
    try:
        container = av.open(str(path), "w")
    except (av.FFmpegError, OSError) as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc
    with container:
        video = container.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        samples_written = 0
        for frame in scene.frames(count):
            vf = av.VideoFrame.from_ndarray(frame.image, format="rgb24")
            vf.pts = frame.index
            vf.time_base = 1 / fps
            container.mux(video.encode(vf))
            # Keep the audio level with the video so the muxer interleaves without buffering.
            audio_due = round((frame.index + 1) / fps * AUDIO_RATE)
            while samples_written < audio_due:
                chunk = min(1024, audio_due - samples_written)
                af = av.AudioFrame.from_ndarray(tone(samples_written, chunk), format="fltp", layout="stereo")
                af.sample_rate, af.pts = AUDIO_RATE, samples_written
                container.mux(audio.encode(af))
                samples_written += chunk
            if callable(on_frame):
                on_frame()
        # Flush both encoders: without it the last frames and audio packets are lost.
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    return count
