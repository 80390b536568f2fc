"""Tiny generated test media: clips whose pixels say their frame index, plus broken files of every kind.

Frame ``i`` is flat colour with red and green levels that encode ``i`` (they survive lossy codecs), and a
white marker in its top-left quarter so a test can tell which way up a decoded frame is.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.video.stream
import cv2
import numpy as np

LEVEL_BASE = 24
LEVEL_STEP = 14
LEVELS = 16  # red and green each take 16 levels: 256 distinct frame indices, enough for any test clip


@dataclass(frozen=True)
class Clip:
    """What a generated clip holds, for tests to compare against."""

    path: Path
    width: int  # stored size, before rotation
    height: int
    fps: Fraction
    time_base: Fraction
    pts: tuple[int, ...]  # presentation timestamps of the frames, in time_base
    audio_samples: int  # per channel; 0 when there is no audio
    audio_rate: int


def index_frame(index: int, width: int, height: int, alpha: bool = False) -> np.ndarray:
    """Frame ``index`` as RGB (or RGBA with a left-to-right alpha ramp)."""
    if index >= LEVELS * LEVELS:
        raise ValueError(f"index {index} too large for the colour code (max {LEVELS * LEVELS - 1})")
    frame = np.empty((height, width, 4 if alpha else 3), np.uint8)  # [H, W, C]
    frame[..., 0] = LEVEL_BASE + LEVEL_STEP * (index % LEVELS)
    frame[..., 1] = LEVEL_BASE + LEVEL_STEP * (index // LEVELS)
    frame[..., 2] = 128
    frame[: max(1, height // 4), : max(1, width // 4), :3] = 255
    if alpha:
        frame[..., 3] = np.linspace(0, 255, width, dtype=np.float32).round().astype(np.uint8)[None, :]
    return frame


def frame_index(frame: np.ndarray) -> int:
    """Read back the index that ``index_frame`` encoded, from the centre of a decoded frame."""
    h, w = frame.shape[:2]
    centre = frame[h // 3 : max(h // 3 + 1, 2 * h // 3), w // 3 : max(w // 3 + 1, 2 * w // 3)]
    red, green = (float(centre[..., c].mean()) for c in (0, 1))
    return round((red - LEVEL_BASE) / LEVEL_STEP) + LEVELS * round((green - LEVEL_BASE) / LEVEL_STEP)


def marker_corner(frame: np.ndarray) -> str:
    """Which corner holds the white marker: 'tl', 'tr', 'bl' or 'br'."""
    h, w = frame.shape[:2]
    corners = {
        "tl": frame[: h // 8 + 1, : w // 8 + 1],
        "tr": frame[: h // 8 + 1, -(w // 8) - 1 :],
        "bl": frame[-(h // 8) - 1 :, : w // 8 + 1],
        "br": frame[-(h // 8) - 1 :, -(w // 8) - 1 :],
    }
    return max(corners, key=lambda k: float(corners[k][..., :3].mean()))


def make_clip(
    path: Path,
    *,
    width: int = 64,
    height: int = 48,
    fps: Fraction = Fraction(25),
    frames: int = 10,
    codec: str = "libx264",
    pix_fmt: str | None = None,
    audio: str | None = None,
    audio_rate: int = 48000,
    audio_channels: int = 2,
    rotation: int = 0,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    gop: int | None = None,
    alpha: bool = False,
) -> Clip:
    """Write a clip of ``frames`` index-coded frames; ``pts`` (in ``time_base``) makes it variable-rate.

    ``audio`` is an encoder name ('aac', 'libopus', 'pcm_s16le', ...) for a 440 Hz sine as long as the video;
    ``rotation`` is the display rotation in degrees counter-clockwise (FFmpeg's display-matrix convention).
    """
    tb = time_base or (1 / fps)
    frame_pts = list(pts) if pts is not None else [round(i / fps / tb) for i in range(frames)]
    if len(frame_pts) != frames:
        raise ValueError("pts must have one entry per frame")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        if not isinstance(stream, av.video.stream.VideoStream):
            raise ValueError(f"{codec} is not a video encoder")
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt or ("yuva420p" if alpha else _default_pix_fmt(codec))
        stream.time_base = tb
        stream.codec_context.time_base = tb
        if gop is not None:
            stream.codec_context.gop_size = gop
            if codec == "libx264":
                stream.codec_context.options = {"keyint_min": str(gop), "sc_threshold": "0"}
        if rotation:
            stream.set_display_rotation(rotation)
        audio_stream = None
        if audio is not None:
            audio_stream = _audio_stream(container, audio, audio_rate)
            audio_stream.layout = "stereo" if audio_channels == 2 else "mono"
        for i, p in enumerate(frame_pts):
            image = av.VideoFrame.from_ndarray(
                index_frame(i, width, height, alpha), "rgba" if alpha else "rgb24"
            )
            image.pts, image.time_base = p, tb
            container.mux(stream.encode(image))
        container.mux(stream.encode(None))
        samples = 0
        if audio_stream is not None:
            duration = float((frame_pts[-1] + (frame_pts[-1] - frame_pts[-2] if frames > 1 else 1)) * tb)
            samples = round(duration * audio_rate)
            _write_sine(container, audio_stream, samples, audio_rate, audio_channels)
    return Clip(path, width, height, fps, tb, tuple(frame_pts), samples, audio_rate)


def _default_pix_fmt(codec: str) -> str:
    return {"mjpeg": "yuvj420p", "png": "rgb24"}.get(codec, "yuv420p")


def _audio_stream(container: av.container.OutputContainer, codec: str, rate: int) -> av.AudioStream:
    stream = container.add_stream(codec, rate=rate)
    if not isinstance(stream, av.AudioStream):
        raise ValueError(f"{codec} is not an audio encoder")
    return stream


def _write_sine(
    container: av.container.OutputContainer, stream: av.AudioStream, samples: int, rate: int, channels: int
) -> None:
    t = np.arange(samples, dtype=np.float64) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    planar = np.ascontiguousarray(np.repeat(wave[None, :], channels, axis=0))  # [C, N] float32
    step = 1024
    for start in range(0, samples, step):
        block = np.ascontiguousarray(planar[:, start : start + step])
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo" if channels == 2 else "mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def make_still(path: Path, *, width: int = 64, height: int = 48, exif_orientation: int | None = None) -> Path:
    """Write frame 0 as a still (format from the suffix); EXIF orientation 6 means 'turn 90° clockwise'."""
    from PIL import Image

    image = Image.fromarray(index_frame(0, width, height))
    if exif_orientation is None:
        image.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(path, exif=exif)
    return path


def make_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def make_not_media(path: Path) -> Path:
    path.write_text("this is a shopping list, not a video\n" * 20)
    return path


def make_truncated(source: Path, path: Path, keep: float = 0.5) -> Path:
    """Copy the first ``keep`` fraction of ``source``'s bytes."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_corrupt(source: Path, path: Path, seed: int = 0) -> Path:
    """Copy ``source`` with its second half overwritten by random bytes (header intact)."""
    data = bytearray(source.read_bytes())
    half = len(data) // 2
    data[half:] = np.random.default_rng(seed).integers(0, 256, len(data) - half, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def make_unknown_codec(path: Path) -> Path:
    """A Matroska file whose video track names a codec FFmpeg does not know."""
    make_clip(path.with_suffix(".tmp.mkv"), frames=3)
    data = path.with_suffix(".tmp.mkv").read_bytes()
    path.with_suffix(".tmp.mkv").unlink()
    # Same length, so the EBML element sizes stay valid.
    path.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_BACKDROP/NONE"))
    return path


def make_audio_only(path: Path) -> Path:
    """An audio file with no video stream."""
    with av.open(str(path), "w") as container:
        stream = _audio_stream(container, "aac", 48000)
        stream.layout = "stereo"
        _write_sine(container, stream, 48000 // 2, 48000, 2)
    return path


def read_rgba(path: Path) -> list[np.ndarray]:
    """Every frame of a video as [H, W, 4] RGBA, the alpha plane included (VP9's through libvpx, which
    reads the plane FFmpeg's own vp9 decoder drops); or of a ZIP archive of PNG frames, in name order."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if n.endswith(".png"))
            return [_rgba(archive.read(name)) for name in names]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.codec_context.name != "vp9":
            return [f.to_ndarray(format="rgba") for f in container.decode(stream)]
        decoder = av.CodecContext.create("libvpx-vp9", "r")
        packets = [p for p in container.demux(stream) if p.size]
        return [f.to_ndarray(format="rgba") for p in packets for f in decoder.decode(p)]


def read_rgba_image(path: Path) -> np.ndarray:
    """A PNG (or any still OpenCV reads) as [H, W, 4] RGBA."""
    return _rgba(path.read_bytes())


def _rgba(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[-1] == 4 else cv2.COLOR_BGR2RGBA)
