"""Join separately encoded H.264 MP4 segments into one MP4 by stream copy, timestamps made continuous."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.error
import av.video.stream

from agents.encode.audio_mux import AudioMux
from agents.encode.formats import MP4
from base.errors import CorruptInput, OutputError


def join_segments(
    segment_paths: Sequence[Path | str], out_path: Path | str, audio: Path | None = None
) -> int:
    """Concatenate the segments' video (no re-encode) and mux ``audio``; returns the number of frames."""
    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".mp4", ".m4v"):
        raise OutputError(f"cannot join into {out_path.name!r}: segments join into an .mp4 file")
    if not segment_paths:
        raise OutputError(f"no segments to join into {out_path.name}")
    try:
        out = av.open(str(out_path), "w", format="mp4", options=dict(MP4.options))
    except (OSError, av.error.FFmpegError) as exc:
        raise OutputError(
            f"cannot write {out_path} ({exc}): check the folder exists and is writable"
        ) from exc
    frames = 0
    try:
        with out:
            frames = _copy_all([Path(p) for p in segment_paths], out, audio)
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    return frames


def _copy_all(segments: list[Path], out: av.container.OutputContainer, audio: Path | None) -> int:
    target: av.video.stream.VideoStream | None = None
    sound: AudioMux | None = None
    reference: bytes | None = None
    end: Fraction | None = None  # where the previous segment's last frame ends, in seconds
    frames = 0
    try:
        for path in segments:
            with _open_segment(path) as segment:
                stream = _segment_video(segment, path)
                if target is None:
                    target = out.add_stream_from_template(stream)
                    reference = stream.codec_context.extradata
                    if audio is not None:
                        sound = AudioMux(audio, out, MP4)
                elif stream.codec_context.extradata != reference:
                    # One avcC header describes the whole track: segments must share encoder settings.
                    raise OutputError(f"{path.name} was encoded with other settings than the first segment")
                end, count = _copy_segment(segment, stream, target, out, end, path)
                frames += count
                if sound is not None:
                    sound.feed_until(float(end))
        if sound is not None:
            sound.finish()
    finally:
        if sound is not None:
            sound.close()
    return frames


def _copy_segment(
    segment: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    target: av.video.stream.VideoStream,
    out: av.container.OutputContainer,
    end: Fraction | None,
    path: Path,
) -> tuple[Fraction, int]:
    tb = stream.time_base or Fraction(1, 90000)
    try:
        packets = [p for p in segment.demux(stream) if p.size > 0 and p.pts is not None and p.dts is not None]
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"segment {path.name} is damaged ({exc}): encode that chunk again") from exc
    if not packets:
        raise CorruptInput(f"segment {path.name} holds no video: encode that chunk again")
    first = min(p.pts for p in packets if p.pts is not None)
    # Segments may carry the source's own timestamps or start at zero: either way, butt each onto the last.
    shift = 0 if end is None else round(end / tb) - first
    last_end = 0
    for packet in packets:
        packet.pts = (packet.pts or 0) + shift
        packet.dts = (packet.dts or 0) + shift
        last_end = max(last_end, packet.pts + (packet.duration or 0))
        packet.stream = target
        out.mux(packet)
    return last_end * tb, len(packets)


def _open_segment(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), "r")
    except (OSError, av.error.FFmpegError) as exc:
        raise CorruptInput(f"segment {path} cannot be read ({exc}): encode that chunk again") from exc


def _segment_video(segment: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    streams = segment.streams.video
    if not streams or streams[0].codec_context is None or streams[0].codec_context.name != "h264":
        raise OutputError(f"segment {path.name} is not H.264 video: only H.264 MP4 segments join by copy")
    return streams[0]
