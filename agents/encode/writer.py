"""Stream frames into MP4 (H.264), MOV (ProRes 4444), WebM (VP9) or PNGs, keeping the source timing."""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.container
import av.error
import av.video.stream
import cv2
import numpy as np

from agents.encode.audio_mux import AudioMux
from agents.encode.formats import PNG_SEQUENCE, OutputFormat, output_format, sequence_pattern
from agents.extract.audio import MP4_SIDE_CODECS, extract_audio
from base.errors import InternalError, OutputError
from schemas.options import Quality

BT709 = 1  # AVCOL_SPC_BT709 = AVCOL_PRI_BT709 = AVCOL_TRC_BT709
LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG

# Each quality preset's encoder settings, per encoder (README: "Quality presets"). Measured at 720p on two
# cores (real footage; ms a frame, PSNR):
# - x264: ultrafast CRF 26 5 ms 41.9 dB; veryfast CRF 20 15 ms 42.8 dB (files smaller than superfast's
#   at a lower CRF); medium CRF 18 25 ms 43.3 dB.
# - VP9 with alpha: libvpx's realtime mode with row threads and four tile columns, ~18 ms at cpu-used 6
#   against ~88 ms for "good" at cpu-used 4, at the same PSNR (43.3 dB) and alpha error (0.1/255), for
#   files ~40% larger (it keeps no alternate reference frames); cpu-used 8 ~12 ms.
# - ProRes 4444: FFmpeg's prores_aw ~26 ms (57 dB), prores_ks ~75 ms with frame threads (63 dB).
# - PNG: zlib level 3 is several times faster than 9 for a few per cent more bytes.
VP9_THREADS = {"row-mt": "1", "tile-columns": "2"}
ENCODER_OPTIONS: dict[str, dict[Quality, dict[str, str]]] = {
    "libx264": {
        "draft": {"preset": "ultrafast", "crf": "26"},
        "standard": {"preset": "veryfast", "crf": "20"},
        "high": {"preset": "medium", "crf": "18"},
    },
    "libvpx-vp9": {
        "draft": {"crf": "36", "deadline": "realtime", "cpu-used": "8", **VP9_THREADS},
        "standard": {"crf": "32", "deadline": "realtime", "cpu-used": "6", **VP9_THREADS},
        "high": {"crf": "28", "deadline": "good", "cpu-used": "4", **VP9_THREADS},
    },
}
# ProRes 4444 keeps the alpha plane (prores_aw calls it profile 4); "high" picks prores_ks.
PRORES_OPTIONS = {
    "prores_aw": {"profile": "4", "vendor": "apl0"},
    "prores_ks": {"profile": "4444", "vendor": "apl0"},
}
PNG_COMPRESSION: dict[Quality, int] = {"draft": 1, "standard": 3, "high": 6}


class VideoWriter:
    """Encode frames as they come; ``pts`` are the source's, in its ``time_base``, so timing stays exact."""

    def __init__(
        self,
        path: Path | str,
        width: int,
        height: int,
        *,
        time_base: Fraction,
        fps: Fraction,
        audio: Path | None = None,
        quality: Quality = "standard",
        threads: int = 0,
    ) -> None:
        if width <= 0 or height <= 0:
            raise InternalError(f"frame size must be positive, got {width}x{height}")
        self.format: OutputFormat = output_format(path)
        self.path = Path(path)
        self.width, self.height = width, height
        self.time_base, self.fps = Fraction(time_base), Fraction(fps)
        self.quality, self.threads = quality, threads
        self.audio_source = audio
        self.audio: AudioMux | None = None
        self.frames_written = 0
        self._alpha: bool | None = None
        self._last_pts: int | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._container: av.container.OutputContainer | None = None
        self._closed = False
        if self.format is PNG_SEQUENCE:
            self._pattern = sequence_pattern(self.path)
            _make_folder(self._pattern.parent)
        else:
            self._container = _open_output(self.path, self.format)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frames: np.ndarray, pts: np.ndarray) -> None:
        """Encode frames [T, H, W, 3] RGB or [T, H, W, 4] RGBA uint8 at source timestamps ``pts`` [T]."""
        self._check(frames, pts)
        if len(frames) == 0:
            return  # an empty selection adds nothing, and must not decide RGB or RGBA for the frames to come
        alpha = frames.shape[-1] == 4
        if self._alpha is None:
            self._start(alpha)
        elif alpha != self._alpha:
            raise InternalError("all frames of one output must be RGB, or all RGBA")
        if self.format is PNG_SEQUENCE:
            self._write_pngs(frames)
        else:
            self._encode(frames, pts)
        self._last_pts = int(pts[-1])
        self.frames_written += len(frames)

    def close(self) -> None:
        """Flush the encoder, mux the rest of the audio, and finish the file."""
        if self._closed:
            return
        self._closed = True
        if self.frames_written == 0:
            self._discard()
            raise OutputError(f"no frames were written to {self.path}: nothing to save")
        try:
            if self._container is not None and self._stream is not None:
                self._container.mux(self._stream.encode(None))  # drain the frames the encoder holds back
                if self.audio is not None:
                    self.audio.finish()
                self._container.close()
            elif self.audio_source is not None:
                # A PNG sequence cannot carry sound: keep the untouched audio stream beside the frames.
                _audio_beside(self.audio_source, self._pattern.parent)
        except (OSError, av.error.FFmpegError) as exc:
            raise OutputError(
                f"could not finish {self.path} ({exc}): check free space and permissions"
            ) from exc

    def abort(self) -> None:
        """Stop without finishing; a partly written file is removed."""
        if self._closed:
            return
        self._closed = True
        self._discard()

    def _discard(self) -> None:
        if self.audio is not None:
            self.audio.close()
        if self._container is not None:
            with contextlib.suppress(av.error.FFmpegError):  # the file is deleted next: a bad trailer is moot
                self._container.close()
            self.path.unlink(missing_ok=True)

    def _check(self, frames: np.ndarray, pts: np.ndarray) -> None:
        if self._closed:
            raise InternalError("this writer is closed")
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] not in (3, 4):
            raise InternalError(f"frames must be uint8 [T, H, W, 3 or 4], got {frames.dtype} {frames.shape}")
        if frames.shape[1:3] != (self.height, self.width):
            raise InternalError(
                f"frames are {frames.shape[2]}x{frames.shape[1]}, writer is {self.width}x{self.height}"
            )
        if len(pts) != len(frames):
            raise InternalError(f"{len(frames)} frames but {len(pts)} timestamps")
        # within the call, and on from the last call's; the very first frame may have any pts
        stamps = np.asarray(pts, dtype=np.int64)
        if self._last_pts is not None:
            stamps = np.concatenate([[self._last_pts], stamps])
        if (np.diff(stamps) <= 0).any():
            raise InternalError("pts must increase strictly, across calls too")

    def _start(self, alpha: bool) -> None:
        self._alpha = alpha
        if alpha and self.format.alpha_pix_fmt is None:
            raise OutputError(
                f"{self.path.name}: {self.format.name.upper()} cannot hold transparency: write .webm, .mov "
                f"or a PNG sequence folder, or composite onto a background first"
            )
        if self._container is None:
            return
        self._stream = _add_video_stream(self._container, self, alpha)
        if self.audio_source is not None:
            self.audio = AudioMux(self.audio_source, self._container, self.format)

    def _encode(self, frames: np.ndarray, pts: np.ndarray) -> None:
        if self._container is None or self._stream is None:
            raise InternalError("this writer is closed")
        stream, container = self._stream, self._container
        pix_fmt = stream.codec_context.pix_fmt
        layout = "rgba" if self._alpha else "rgb24"
        durations = _durations(pts, self.fps, self.time_base)
        try:
            for image, stamp, duration in zip(_even(frames, self.format), pts, durations, strict=True):
                frame = av.VideoFrame.from_ndarray(image, format=layout)
                # Convert with the BT.709 matrix the stream is tagged with, not swscale's BT.601 default.
                frame = frame.reformat(format=pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
                frame.pts, frame.time_base, frame.duration = int(stamp), self.time_base, int(duration)
                container.mux(stream.encode(frame))
            if self.audio is not None:
                self.audio.feed_until(float((int(pts[-1]) + 1) * self.time_base))
        except av.error.FFmpegError as exc:
            raise OutputError(
                f"encoding {self.path} failed ({exc}): check free space and permissions"
            ) from exc

    def _write_pngs(self, frames: np.ndarray) -> None:
        for offset, image in enumerate(frames):
            # only the file name is a pattern: a folder may hold a '%' of its own (e.g. 'crop 50%/')
            target = str(self._pattern.with_name(self._pattern.name % (self.frames_written + offset)))
            try:
                Path(target).write_bytes(png_bytes(image, self.quality))
            except OSError as exc:
                raise OutputError(f"cannot write {target} ({exc}): check free space and permissions") from exc


def png_bytes(image: np.ndarray, quality: Quality = "standard") -> bytes:
    """One [H, W, 3] RGB or [H, W, 4] RGBA frame as a PNG file's bytes (lossless at every quality: the
    preset sets how hard zlib works)."""
    code = cv2.COLOR_RGBA2BGRA if image.shape[-1] == 4 else cv2.COLOR_RGB2BGR
    level = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION[quality]]
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, code), level)
    if not ok:
        raise OutputError(f"the PNG encoder refused a {image.shape[1]}x{image.shape[0]} frame")
    return bytes(data.tobytes())


def _durations(pts: np.ndarray, fps: Fraction, time_base: Fraction) -> np.ndarray:
    """Each frame lasts until the next; the last of a batch gets the nominal 1/fps (the muxer keeps only the
    very last frame's duration, which sets the length of the video)."""
    nominal = max(1, round(1 / (fps * time_base)))
    return np.append(np.diff(np.asarray(pts, dtype=np.int64)), nominal)


def _even(frames: np.ndarray, fmt: OutputFormat) -> np.ndarray:
    """Pad odd sizes by one edge row/column: 4:2:0 chroma cannot represent them."""
    if not fmt.even_size:
        return frames
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if not (pad_h or pad_w):
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the output folder {folder} ({exc}): check the path and permissions"
        ) from exc


def _open_output(path: Path, fmt: OutputFormat) -> av.container.OutputContainer:
    try:
        # Fail here, not after minutes of encoding, if the path cannot be written.
        path.open("wb").close()
        return av.open(str(path), "w", format=fmt.container, options=dict(fmt.options))
    except (OSError, av.error.FFmpegError) as exc:
        raise OutputError(f"cannot write {path} ({exc}): check the folder exists and is writable") from exc


def _add_video_stream(
    container: av.container.OutputContainer, writer: VideoWriter, alpha: bool
) -> av.video.stream.VideoStream:
    fmt = writer.format
    codec = fmt.codec
    if codec == "prores_aw" and (writer.width % 2 or writer.quality == "high"):
        # The faster encoder takes even widths only; the other keeps an odd one exact, and more detail.
        codec = "prores_ks"
    stream = container.add_stream(codec, rate=writer.fps)
    if not isinstance(stream, av.video.stream.VideoStream):
        raise OutputError(f"{codec} is not a video encoder")
    stream.width = writer.width + (writer.width % 2 if fmt.even_size else 0)
    stream.height = writer.height + (writer.height % 2 if fmt.even_size else 0)
    stream.pix_fmt = (fmt.alpha_pix_fmt or fmt.pix_fmt) if alpha else fmt.pix_fmt
    stream.time_base = (
        writer.time_base
    )  # keep the source clock: 1001-based and variable timestamps stay exact
    ctx = stream.codec_context
    ctx.time_base = writer.time_base
    ctx.thread_count = writer.threads
    ctx.colorspace = ctx.color_primaries = ctx.color_trc = BT709
    ctx.color_range = LIMITED_RANGE
    if codec in PRORES_OPTIONS:
        ctx.options = dict(PRORES_OPTIONS[codec])
        ctx.thread_type = "FRAME"  # its slices are few and uneven: whole frames per thread run ~2x faster
    else:
        ctx.options = dict(ENCODER_OPTIONS[codec][writer.quality])
    if codec == "libx264":
        # PyAV asks for slice threads, in which x264 encodes each frame across the threads while the caller
        # waits for it; with frame threads it takes the frame and encodes several at once. Decode plus encode
        # of a 720p sample on two cores: 72.9 against 53.4 fps, 2.66 against 2.67 MB, 40.8 dB PSNR both.
        ctx.thread_type = "FRAME"
    if codec == "libvpx-vp9":
        ctx.bit_rate = 0  # constant quality: CRF alone decides
    return stream


def _audio_beside(source: Path, folder: Path) -> None:
    """The source's audio stream, copied into ``folder`` as audio.m4a or audio.mka (by codec)."""
    side = folder / "audio.part"
    info = extract_audio(source, side)
    if info is None:
        return
    side.rename(folder / ("audio.m4a" if info.codec in MP4_SIDE_CODECS else "audio.mka"))
