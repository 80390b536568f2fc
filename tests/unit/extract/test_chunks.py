from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from agents.extract import ChunkSpec, plan_chunks
from tests import clips


def _covers_once(chunks: list[ChunkSpec], total: int) -> bool:
    covered = [i for c in chunks for i in range(c.start, c.stop)]
    return covered == list(range(total))


@pytest.mark.parametrize("warmup", [0, 4])
def test_cuts_on_keyframes_with_warmup(tmp_path: Path, warmup: int) -> None:
    clip = clips.make_clip(tmp_path / "gop.mp4", fps=Fraction(25), frames=70, gop=12)
    chunks = plan_chunks(clip.path, chunk_seconds=1.0, warmup_frames=warmup)
    assert _covers_once(chunks, 70)
    assert [c.start for c in chunks] == [0, 24, 48]  # keyframes every 12 frames, nearest to 25
    assert [c.warmup_start for c in chunks] == [0, 24 - warmup, 48 - warmup]
    assert [c.index for c in chunks] == [0, 1, 2]


def test_no_keyframes_to_cut_on_falls_back_to_counts(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "long_gop.mkv", frames=60, gop=250)
    chunks = plan_chunks(clip.path, chunk_seconds=0.4, warmup_frames=3)
    assert _covers_once(chunks, 60)
    assert [c.start for c in chunks] == [0, 10, 20, 30, 40, 50]
    assert all(c.seek_ts is None for c in chunks)  # only keyframe is frame 0: decode from the start


def test_short_tail_joins_the_last_chunk(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "c.mp4", frames=55, gop=250)
    chunks = plan_chunks(clip.path, chunk_seconds=1.0, warmup_frames=0)
    assert [(c.start, c.stop) for c in chunks] == [(0, 25), (25, 55)]


def test_still_is_one_chunk(tmp_path: Path) -> None:
    chunks = plan_chunks(clips.make_still(tmp_path / "p.png"))
    assert chunks == [ChunkSpec(0, 0, 1, 0)]


def test_a_raw_elementary_stream_is_planned_frame_by_frame(tmp_path: Path) -> None:
    # No container, no timestamps: only the packets count the frames (once, only its keyframes counted).
    from tests.corpus import encode_h264

    path = tmp_path / "raw.h264"
    encode_h264(path, frames=50, container_format="h264")  # a keyframe every 10 frames
    chunks = plan_chunks(path, chunk_seconds=0.8, warmup_frames=3)
    assert _covers_once(chunks, 50)
    assert all(c.seek_ts is None for c in chunks)  # nothing to seek by: each decodes from the start
