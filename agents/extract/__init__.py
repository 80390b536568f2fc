"""Extract stage core: probe, validate limits, plan chunks, decode frames, keep the audio aside."""

from agents.extract.audio import extract_audio
from agents.extract.chunks import ChunkSpec, plan_chunks
from agents.extract.decode import FrameBatch, decode_chunk, iter_frames, read_image
from agents.extract.limits import Limits, validate
from agents.extract.probe import AudioInfo, MediaInfo, probe

__all__ = [
    "AudioInfo",
    "ChunkSpec",
    "FrameBatch",
    "Limits",
    "MediaInfo",
    "decode_chunk",
    "extract_audio",
    "iter_frames",
    "plan_chunks",
    "probe",
    "read_image",
    "validate",
]
