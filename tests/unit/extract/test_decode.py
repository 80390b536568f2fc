from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from agents.extract import decode_chunk, iter_frames, plan_chunks, probe, read_image
from base.errors import CorruptInput
from tests import clips


@pytest.mark.parametrize(
    ("name", "codec"), [("clip.mp4", "libx264"), ("clip.mkv", "libx264"), ("clip.webm", "libvpx-vp9")]
)
def test_chunks_decode_the_right_frames(tmp_path: Path, name: str, codec: str) -> None:
    clip = clips.make_clip(tmp_path / name, codec=codec, fps=Fraction(24000, 1001), frames=60, gop=10)
    time_base = probe(clip.path).time_base
    for spec in plan_chunks(clip.path, chunk_seconds=0.8, warmup_frames=5):
        batches = list(decode_chunk(clip.path, spec, batch_frames=7))
        indices = np.concatenate([b.indices for b in batches])
        assert indices.tolist() == list(range(spec.warmup_start, spec.stop))
        assert [clips.frame_index(f) for b in batches for f in b.frames] == indices.tolist()
        seconds = [float(p * time_base) for b in batches for p in b.pts]
        expected = [float(clip.pts[i] * clip.time_base) for i in indices]
        assert seconds == pytest.approx(expected, abs=0.00051)  # Matroska keeps rounded milliseconds
        assert all(b.frames.dtype == np.uint8 and b.frames.shape[1:] == (48, 64, 3) for b in batches)


def test_iter_frames_reads_every_frame_in_order(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "clip.mp4", frames=20)
    batches = list(iter_frames(clip.path, batch_frames=8))
    assert [len(b.frames) for b in batches] == [8, 8, 4]
    assert [clips.frame_index(f) for b in batches for f in b.frames] == list(range(20))


def test_rotation_is_applied(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "portrait.mp4", width=64, height=48, rotation=90)
    frame = next(iter_frames(clip.path)).frames[0]
    assert frame.shape == (64, 48, 3)
    assert frame.flags.c_contiguous
    assert clips.marker_corner(frame) == "bl"  # top-left turned 90° counter-clockwise


def test_still_honours_exif_orientation(tmp_path: Path) -> None:
    image = read_image(clips.make_still(tmp_path / "photo.jpg", exif_orientation=6))
    assert image.shape == (1, 64, 48, 3)
    assert clips.marker_corner(image[0]) == "tr"  # top-left turned 90° clockwise


def test_truncated_stream_names_the_frame(tmp_path: Path) -> None:
    whole = clips.make_clip(tmp_path / "whole.mkv", frames=40).path
    cut = clips.make_truncated(whole, tmp_path / "cut.mkv")
    with pytest.raises(CorruptInput, match=r"frame \d+"):
        list(decode_chunk(cut, plan_chunks(whole, chunk_seconds=10)[0]))
