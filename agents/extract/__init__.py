"""Extract stage core: probe, validate limits, plan chunks, decode frames, keep the audio aside."""

from agents.extract.audio import extract_audio
from agents.extract.chunks import ChunkSpec, PacketScan, plan_chunks, scan_packets
from agents.extract.clock import OutputClock, output_clock
from agents.extract.decode import FrameBatch, decode_chunk, iter_frames, read_image
from agents.extract.limits import Limits, validate
from agents.extract.probe import AudioInfo, MediaInfo, probe

__all__ = [
    "AudioInfo",
    "ChunkSpec",
    "FrameBatch",
    "Limits",
    "MediaInfo",
    "OutputClock",
    "PacketScan",
    "decode_chunk",
    "extract_audio",
    "iter_frames",
    "output_clock",
    "plan_chunks",
    "probe",
    "read_image",
    "scan_packets",
    "validate",
]
