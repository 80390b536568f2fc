"""Join separately encoded segments into one file by stream copy, timestamps made continuous: H.264 in MP4,
ProRes 4444 in MOV, VP9 (with its alpha) in WebM; PNG frames in ZIP archives into one archive."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.error
import av.video.stream

from agents.encode.audio_mux import AudioMux
from agents.encode.formats import BY_SUFFIX, OutputFormat
from base.errors import CorruptInput, OutputError

# What each format's segments must hold: the decoder's name for its encoder's output.
SEGMENT_CODEC = {"libx264": "h264", "prores_aw": "prores", "libvpx-vp9": "vp9"}
ALPHA_MODE = "alpha_mode"  # Matroska's flag that a VP9 track carries an alpha plane beside each block


def join_segments(
    segment_paths: Sequence[Path | str], out_path: Path | str, audio: Path | None = None
) -> int:
    """Concatenate the segments' video (no re-encode) and mux ``audio``; returns the number of frames.

    The output's suffix names the format (.mp4, .mov, .webm); every segment must hold that format's codec.
    """
    out_path = Path(out_path)
    fmt = BY_SUFFIX.get(out_path.suffix.lower())
    if fmt is None or fmt.container is None:
        raise OutputError(f"cannot join into {out_path.name!r}: segments join into .mp4, .mov or .webm")
    if not segment_paths:
        raise OutputError(f"no segments to join into {out_path.name}")
    try:
        out = av.open(str(out_path), "w", format=fmt.container, options=dict(fmt.options))
    except (OSError, av.error.FFmpegError) as exc:
        raise OutputError(
            f"cannot write {out_path} ({exc}): check the folder exists and is writable"
        ) from exc
    frames = 0
    try:
        with out:
            frames = _copy_all([Path(p) for p in segment_paths], out, audio, fmt)
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    return frames


def _copy_all(
    segments: list[Path], out: av.container.OutputContainer, audio: Path | None, fmt: OutputFormat
) -> int:
    target: av.video.stream.VideoStream | None = None
    sound: AudioMux | None = None
    reference: bytes | None = None
    end: tuple[Fraction, Fraction] | None = None  # the previous segment's last frame: start and end, seconds
    frames = 0
    try:
        for path in segments:
            with _open_segment(path) as segment:
                stream = _segment_video(segment, path, fmt)
                if target is None:
                    target = out.add_stream_from_template(stream)
                    if fmt.container == "webm" and stream.average_rate:
                        # Matroska states the rate as a default frame duration, which a copied stream
                        # lacks: without it 24000/1001 reads back as its millisecond timestamps' 24.
                        # (MP4 and MOV derive it from the samples' durations; there it would do harm.)
                        target.codec_context.framerate = stream.average_rate
                    if stream.metadata.get(ALPHA_MODE) == "1":
                        # The alpha rides in each block's additions, copied with the packet; the track
                        # must still say so, or players show the colour planes alone.
                        target.metadata[ALPHA_MODE] = "1"
                    reference = stream.codec_context.extradata
                    if audio is not None:
                        sound = AudioMux(audio, out, fmt)
                elif stream.codec_context.extradata != reference:
                    # One header (H.264's avcC) describes the whole track: segments share encoder settings.
                    raise OutputError(f"{path.name} was encoded with other settings than the first segment")
                end, count = _copy_segment(segment, stream, target, out, end, path, fmt)
                frames += count
                if sound is not None:
                    sound.feed_until(float(end[1]))
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
    end: tuple[Fraction, Fraction] | None,
    path: Path,
    fmt: OutputFormat,
) -> tuple[tuple[Fraction, Fraction], int]:
    tb = stream.time_base or Fraction(1, 90000)
    try:
        packets = [p for p in segment.demux(stream) if p.size > 0 and p.pts is not None and p.dts is not None]
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"segment {path.name} is damaged ({exc}): encode that chunk again") from exc
    if not packets:
        raise CorruptInput(f"segment {path.name} holds no video: encode that chunk again")
    first = min(p.pts for p in packets if p.pts is not None)
    # Each segment is butted onto the last one's end, except in Matroska: its millisecond clock cannot add
    # up rounded durations to the source's timestamps, which its segments carry exactly (where they
    # follow on). MP4 and MOV segments do not: a segment starting past zero opens with an edit at the
    # movie's millisecond scale (8.3333 s reads back 5 ticks of 1/15360 early).
    keep = fmt.container == "webm" and end is not None and first * tb > end[0]
    shift = 0 if end is None or keep else round(end[1] / tb) - first
    last_start = last_end = 0
    for packet in packets:
        packet.pts = (packet.pts or 0) + shift
        packet.dts = (packet.dts or 0) + shift
        last_start = max(last_start, packet.pts)
        last_end = max(last_end, packet.pts + (packet.duration or 0))
        packet.stream = target
        out.mux(packet)
    return (last_start * tb, last_end * tb), len(packets)


def _open_segment(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), "r")
    except (OSError, av.error.FFmpegError) as exc:
        raise CorruptInput(f"segment {path} cannot be read ({exc}): encode that chunk again") from exc


def _segment_video(
    segment: av.container.InputContainer, path: Path, fmt: OutputFormat
) -> av.video.stream.VideoStream:
    streams = segment.streams.video
    codec = SEGMENT_CODEC[fmt.codec]
    if not streams or streams[0].codec_context is None or streams[0].codec_context.name != codec:
        raise OutputError(
            f"segment {path.name} does not hold {codec} video: it cannot join a {fmt.name} file"
        )
    return streams[0]
