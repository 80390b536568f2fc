"""Damage that FFmpeg reads without an error: a Matroska tail cut off, frames sharing a timestamp."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from agents.extract import iter_frames, plan_chunks, probe
from agents.extract.matroska import segment_end
from base.errors import CorruptInput, UnsupportedInput
from tests import clips, corpus


def test_segment_end_is_the_file_size_of_a_whole_matroska_file(tmp_path: Path) -> None:
    for name in ("clip.mkv", "clip.webm"):
        codec = "libvpx-vp9" if name.endswith("webm") else "libx264"
        path = clips.make_clip(tmp_path / name, codec=codec, frames=5).path
        assert segment_end(path) == path.stat().st_size
    assert segment_end(clips.make_clip(tmp_path / "clip.mp4", frames=5).path) is None


def test_segment_of_unknown_size_is_not_judged(tmp_path: Path) -> None:
    data = bytearray(clips.make_clip(tmp_path / "clip.mkv", frames=5).path.read_bytes())
    at = data.index(b"\x18\x53\x80\x67") + 4  # the Segment's size: 8 bytes, 0x01 then 7 value bytes
    data[at : at + 8] = b"\x01" + b"\xff" * 7  # "unknown", as a live muxer writes it
    live = tmp_path / "live.mkv"
    live.write_bytes(bytes(data))
    assert segment_end(live) is None


def test_matroska_missing_its_last_frames_is_cut_off(tmp_path: Path) -> None:
    """FFmpeg stops quietly at the last whole frame; 0.2 s short is within its duration's tolerance."""
    whole = clips.make_clip(tmp_path / "whole.mkv", frames=50, gop=10).path
    cut = clips.make_truncated(whole, tmp_path / "cut.mkv", keep=0.93)
    with pytest.raises(CorruptInput, match="cut off"):
        plan_chunks(probe(cut))


def test_frames_sharing_a_timestamp_are_corrupt(tmp_path: Path) -> None:
    data = bytearray(clips.make_clip(tmp_path / "clip.mp4", frames=20).path.read_bytes())
    stts, _ = corpus.mp4_box(data, "moov/trak/mdia/minf/stbl/stts")
    struct.pack_into(">I", data, stts + 12, 0)  # the one (count, delta) entry: every delta 0
    same = tmp_path / "same.mp4"
    same.write_bytes(bytes(data))
    with pytest.raises(CorruptInput, match="repeat the timestamp"):
        plan_chunks(probe(same))


def test_damage_mid_stream_names_the_frame_near_it(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "clip.mp4", width=160, height=120, frames=40, gop=10)
    data = bytearray(clip.path.read_bytes())
    noise = np.random.default_rng(0)
    for offset, size in corpus.video_samples(data)[25:30]:  # slice data only: the NAL lengths stay
        data[offset + size // 2 : offset + size] = noise.integers(
            0, 256, size - size // 2, np.uint8
        ).tobytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(CorruptInput, match=r"near frame 2\d"):
        for _ in iter_frames(broken):
            pass


def test_a_picture_that_changes_size_is_unsupported(tmp_path: Path) -> None:
    """The later stages and the encoder hold one frame size: a stream that switches is refused."""
    small = corpus.encode_h264(tmp_path / "small.h264", frames=5, container_format="h264")
    large = corpus.encode_h264(tmp_path / "large.h264", frames=5, size=(320, 240), container_format="h264")
    both = tmp_path / "both.h264"
    both.write_bytes(small + large)
    with pytest.raises(UnsupportedInput, match="changes size near frame 5"):
        for _ in iter_frames(both):
            pass
