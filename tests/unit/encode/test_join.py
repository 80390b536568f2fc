from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from agents.encode import VideoWriter, join_segments
from agents.extract import decode_chunk, extract_audio, iter_frames, plan_chunks, probe
from base.errors import OutputError
from tests import clips
from tests.corpus import top_level_boxes


def _segments(source: Path, folder: Path) -> list[Path]:
    """Encode each chunk on its own, dropping warm-up frames, as the encode stage does."""
    info = probe(source)
    paths = []
    for spec in plan_chunks(info, chunk_seconds=1.0, warmup_frames=4):
        path = folder / f"seg{spec.index}.mp4"
        with VideoWriter(path, info.width, info.height, time_base=info.time_base, fps=info.fps) as writer:
            for batch in decode_chunk(source, spec):
                keep = batch.indices >= spec.start
                if keep.any():
                    writer.write(batch.frames[keep], batch.pts[keep])
        paths.append(path)
    return paths


def test_segments_join_into_the_source_timeline(tmp_path: Path) -> None:
    source = clips.make_clip(
        tmp_path / "in.mp4", fps=Fraction(24000, 1001), frames=60, gop=12, audio="aac"
    ).path
    segments = _segments(source, tmp_path)
    assert len(segments) == 2
    extract_audio(source, tmp_path / "audio.side")
    assert join_segments(segments, tmp_path / "out.mp4", audio=tmp_path / "audio.side") == 60
    before, after = probe(source), probe(tmp_path / "out.mp4")
    assert (after.fps, after.frame_count, after.duration_s) == (before.fps, 60, before.duration_s)
    assert after.audio is not None
    assert after.audio.codec == "aac"
    assert _seconds(tmp_path / "out.mp4", after.time_base) == _seconds(source, before.time_base)
    indices = [clips.frame_index(f) for b in iter_frames(tmp_path / "out.mp4") for f in b.frames]
    assert indices == list(range(60))
    for path in (segments[0], tmp_path / "out.mp4"):  # "H.264 MP4 (faststart)": the index first
        kinds = [kind for kind, _, _ in top_level_boxes(path.read_bytes())]
        assert kinds.index(b"moov") < kinds.index(b"mdat"), (path.name, kinds)


def _seconds(path: Path, time_base: Fraction) -> list[Fraction]:
    return [int(p) * time_base for b in iter_frames(path) for p in b.pts]


def test_join_needs_mp4(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="mp4"):
        join_segments([tmp_path / "a.mp4"], tmp_path / "out.webm")
