"""Keep the source audio aside, untouched, for the encode stage to mux back."""

from __future__ import annotations

from pathlib import Path

import av
import av.error

from agents.extract.opening import REUPLOAD, open_input
from agents.extract.probe import AudioInfo, audio_info_of
from base.errors import CorruptInput, OutputError

# MP4 keeps these codecs' sample-exact timestamps and encoder delay (AAC priming); Matroska would round every
# timestamp to 1 ms and drop the priming, shifting the sound by ~21 ms. Matroska takes everything else.
MP4_SIDE_CODECS = frozenset({"aac", "mp3", "mp3float", "opus", "flac", "alac", "ac3", "pcm_s16le"})


def extract_audio(path: Path | str, out_path: Path | str) -> AudioInfo | None:
    """Copy the first audio stream, packets unchanged, into a side file; None when there is none, or
    when it holds no packet (a track the header lists but the file does not carry: no side file then).

    The side file is MP4 or Matroska by codec (see MP4_SIDE_CODECS) whatever ``out_path``'s suffix says;
    readers recognise it by content.
    """
    path, out_path = Path(path), Path(out_path)
    with open_input(path) as source:
        streams = [s for s in source.streams.audio if s.codec_context is not None]
        if not streams:
            return None
        stream = streams[0]
        info = audio_info_of(stream, source, 0.0)
        side_format = "mp4" if stream.codec_context.name in MP4_SIDE_CODECS else "matroska"
        try:
            target = av.open(str(out_path), "w", format=side_format)
        except (OSError, av.error.FFmpegError) as exc:
            raise OutputError(
                f"cannot write the audio side file {out_path} ({exc}): check the folder"
            ) from exc
        copied = 0
        with target:
            copy = target.add_stream_from_template(stream)
            try:
                for packet in source.demux(stream):
                    if packet.size == 0 or packet.dts is None:
                        continue
                    packet.stream = copy
                    target.mux(packet)
                    copied += 1
            except av.error.FFmpegError as exc:
                raise CorruptInput(f"{path}: the audio track is unreadable ({exc}); {REUPLOAD}") from exc
    if not copied:
        out_path.unlink(missing_ok=True)
        return None
    return info
