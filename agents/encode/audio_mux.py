"""Mux the kept-aside source audio into an output: copied where the container allows, interleaved."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.audio.stream
import av.container
import av.error

from agents.encode.formats import OutputFormat
from base.errors import CorruptInput, OutputError

OPUS_RATE = 48000  # the only rate Opus encodes at without resampling surprises


class AudioMux:
    """Adds one audio stream to ``container``; call ``feed_until`` as video advances, then ``finish``."""

    def __init__(self, source: Path, container: av.container.OutputContainer, fmt: OutputFormat) -> None:
        try:
            self._source = av.open(str(source), "r")
        except (OSError, av.error.FFmpegError) as exc:
            raise CorruptInput(
                f"cannot read the audio file {source} ({exc}): extract the audio again"
            ) from exc
        streams = [s for s in self._source.streams.audio if s.codec_context is not None]
        if not streams:
            self._source.close()
            raise CorruptInput(f"{source} holds no readable audio stream: extract the audio again")
        self._in = streams[0]
        self.copied = self._in.codec_context.name in fmt.audio_copy
        self._out: av.audio.stream.AudioStream
        if self.copied:
            self._out = container.add_stream_from_template(self._in)
        elif fmt.audio_encoder is not None:
            ctx = self._in.codec_context
            rate = OPUS_RATE if fmt.audio_encoder == "libopus" else ctx.sample_rate
            added = container.add_stream(fmt.audio_encoder, rate=rate)
            if not isinstance(added, av.audio.stream.AudioStream):
                raise OutputError(f"{fmt.audio_encoder} is not an audio encoder")
            self._out = added
            self._out.layout = "stereo" if ctx.channels >= 2 else "mono"
        else:
            self._source.close()
            raise OutputError(f"{fmt.name} output cannot carry audio")
        self._container = container
        self._packets: Iterator[av.Packet[av.audio.stream.AudioStream]] = iter(self._source.demux(self._in))
        self._pending: av.Packet[av.audio.stream.AudioStream] | None = None
        self._done = False

    def feed_until(self, seconds: float | None) -> None:
        """Mux source audio up to ``seconds`` (everything when None)."""
        while not self._done:
            packet = self._pending or self._next()
            if packet is None:
                self._done = True
                break
            start = packet.pts if packet.pts is not None else packet.dts
            tb = self._in.time_base or Fraction(1, self._in.codec_context.sample_rate)
            if seconds is not None and start is not None and float(start * tb) > seconds:
                self._pending = packet
                return
            self._pending = None
            self._mux(packet)

    def finish(self) -> None:
        """Mux the rest, flush the audio encoder, release the source."""
        try:
            self.feed_until(None)
            if not self.copied:
                self._container.mux(self._out.encode(None))
        finally:
            self._source.close()

    def close(self) -> None:
        """Release the source without writing anything more."""
        self._source.close()

    def _next(self) -> av.Packet[av.audio.stream.AudioStream] | None:
        try:
            for packet in self._packets:
                if packet.size > 0 and packet.dts is not None:
                    return packet
        except av.error.FFmpegError as exc:
            raise CorruptInput(f"the audio side file is damaged ({exc}): extract the audio again") from exc
        return None

    def _mux(self, packet: av.Packet[av.audio.stream.AudioStream]) -> None:
        if self.copied:
            packet.stream = self._out
            self._container.mux(packet)
            return
        for frame in self._in.decode(packet):
            frame.time_base = frame.time_base or Fraction(1, frame.sample_rate)
            self._container.mux(self._out.encode(frame))
