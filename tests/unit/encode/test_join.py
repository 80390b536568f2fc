from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from agents.encode import VideoWriter, join_segments
from agents.encode.archive import archive_frames, join_png_archives, write_png_archive
from agents.extract import decode_chunk, extract_audio, iter_frames, plan_chunks, probe
from base.errors import CorruptInput, OutputError
from tests import clips
from tests.corpus import top_level_boxes


def _segments(
    source: Path, folder: Path, suffix: str = ".mp4", alpha: bool = False, chunk_seconds: float = 1.0
) -> list[Path]:
    """Encode each chunk on its own, dropping warm-up frames, as the composite stage does; with ``alpha``
    each frame gets an alpha plane that ramps with its index."""
    info = probe(source)
    paths = []
    for spec in plan_chunks(info, chunk_seconds=chunk_seconds, warmup_frames=4):
        path = folder / f"seg{spec.index}{suffix}"
        with VideoWriter(path, info.width, info.height, time_base=info.time_base, fps=info.fps) as writer:
            for batch in decode_chunk(source, spec):
                keep = batch.indices >= spec.start
                if keep.any():
                    writer.write(_with_alpha(batch.frames[keep], batch.indices[keep], alpha), batch.pts[keep])
        paths.append(path)
    return paths


def _with_alpha(frames: np.ndarray, indices: np.ndarray, alpha: bool) -> np.ndarray:
    if not alpha:
        return frames
    planes = np.broadcast_to(
        (indices * 4 % 256).astype(np.uint8)[:, None, None, None], (*frames.shape[:3], 1)
    )
    return np.concatenate([frames, planes], axis=-1)


@pytest.mark.parametrize(
    ("suffix", "alpha", "audio"),
    [(".mp4", False, "aac"), (".mov", True, "aac"), (".webm", True, "libopus"), (".webm", False, "aac")],
)
def test_segments_join_into_the_source_timeline(tmp_path: Path, suffix: str, alpha: bool, audio: str) -> None:
    source = clips.make_clip(
        tmp_path / "in.mp4", fps=Fraction(24000, 1001), frames=60, gop=12, audio=audio
    ).path
    segments = _segments(source, tmp_path, suffix, alpha)
    assert len(segments) == 2
    extract_audio(source, tmp_path / "audio.side")
    out = tmp_path / f"out{suffix}"
    assert join_segments(segments, out, audio=tmp_path / "audio.side") == 60
    # As `process` writes it: the whole video through one writer.
    whole = tmp_path / f"whole{suffix}"
    info = probe(source)
    with VideoWriter(
        whole, info.width, info.height, time_base=info.time_base, fps=info.fps, audio=tmp_path / "audio.side"
    ) as writer:
        for batch in iter_frames(source):
            writer.write(_with_alpha(batch.frames, batch.indices, alpha), batch.pts)
    before, after = probe(whole), probe(out)
    # (Matroska states no frame count: the probe's estimate must at least agree with `process`'s file.)
    assert (after.fps, after.frame_count, after.duration_s) == (
        info.fps,
        before.frame_count,
        before.duration_s,
    )
    assert after.audio == before.audio
    assert _seconds(out, after.time_base) == _seconds(whole, before.time_base)
    assert _seconds(out, after.time_base) == pytest.approx(_seconds(source, info.time_base), abs=0.001)
    decoded = clips.read_rgba(out)
    assert [clips.frame_index(f) for f in decoded] == list(range(60))
    if alpha:
        expected = np.arange(60) * 4 % 256
        assert np.abs(np.array([f[..., 3].mean() for f in decoded]) - expected).max() < 2


def test_mp4_segments_keep_the_index_first(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "in.mp4", frames=60, gop=12).path
    segments = _segments(source, tmp_path)
    join_segments(segments, tmp_path / "out.mp4")
    for path in (segments[0], tmp_path / "out.mp4"):  # "H.264 MP4 (faststart)": the index first
        kinds = [kind for kind, _, _ in top_level_boxes(path.read_bytes())]
        assert kinds.index(b"moov") < kinds.index(b"mdat"), (path.name, kinds)


def _seconds(path: Path, time_base: Fraction) -> list[float]:
    return [float(int(p) * time_base) for b in iter_frames(path) for p in b.pts]


def test_join_needs_a_video_format(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"\.mp4, \.mov or \.webm"):
        join_segments([tmp_path / "a.mp4"], tmp_path / "out.mkv")


def test_segments_of_another_codec_do_not_join(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "in.mp4", frames=30).path
    segments = _segments(source, tmp_path, ".mp4")
    with pytest.raises(OutputError, match="does not hold vp9"):
        join_segments(segments, tmp_path / "out.webm")
    assert not (tmp_path / "out.webm").exists()


def test_png_archives_join_in_frame_order_with_the_audio(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "in.mp4", frames=10, audio="aac").path
    frames = np.stack([clips.index_frame(i, 64, 48, alpha=True) for i in range(10)])
    write_png_archive(tmp_path / "a.zip", frames[:6], 0)
    write_png_archive(tmp_path / "b.zip", frames[6:], 6)
    extract_audio(source, tmp_path / "audio.side")
    out = tmp_path / "out.zip"
    assert join_png_archives([tmp_path / "a.zip", tmp_path / "b.zip"], out, tmp_path / "audio.side") == 10
    assert archive_frames(out) == [f"frame_{i:06d}.png" for i in range(10)]
    assert np.array_equal(np.stack(clips.read_rgba(out)), frames)
    import zipfile

    assert "audio.m4a" in zipfile.ZipFile(out).namelist()


def test_png_archives_with_a_gap_do_not_join(tmp_path: Path) -> None:
    frames = np.stack([clips.index_frame(i, 64, 48) for i in range(4)])
    write_png_archive(tmp_path / "a.zip", frames[:2], 0)
    write_png_archive(tmp_path / "b.zip", frames[2:], 3)  # frame 2 missing
    with pytest.raises(CorruptInput, match="write that chunk again"):
        join_png_archives([tmp_path / "a.zip", tmp_path / "b.zip"], tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()


def test_mp4_segments_that_open_with_an_edit_join_on_the_sources_clock(tmp_path: Path) -> None:
    """A segment starting past zero and off the millisecond grid (at 1.667 s, say) opens with an edit at
    the movie's millisecond scale and reads back a few ticks early; the join butts each segment onto the
    last, so the rate and timestamps stay exact."""
    source = clips.make_clip(
        tmp_path / "in.mp4", fps=Fraction(30), frames=250, time_base=Fraction(1, 15360), gop=50
    ).path
    info = probe(source)
    out = tmp_path / "out.mp4"
    join_segments(_segments(source, tmp_path, chunk_seconds=2.0), out)
    assert probe(out).fps == Fraction(30)
    assert _seconds(out, probe(out).time_base) == _seconds(source, info.time_base)
