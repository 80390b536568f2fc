from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from agents.encode import VideoWriter
from agents.extract import extract_audio, iter_frames, probe
from tests import clips


def _reencode(source: Path, out: Path, side: Path) -> VideoWriter:
    info = probe(source)
    audio = side if extract_audio(source, side) else None
    with VideoWriter(
        out, info.width, info.height, time_base=info.time_base, fps=info.fps, audio=audio
    ) as writer:
        for batch in iter_frames(source, batch_frames=7):
            writer.write(batch.frames, batch.pts)
    return writer


def _timeline(path: Path) -> list[tuple[Fraction, int]]:
    time_base = probe(path).time_base
    return [
        (int(p) * time_base, clips.frame_index(f))
        for b in iter_frames(path)
        for p, f in zip(b.pts, b.frames, strict=True)
    ]


def _audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(25)])
def test_mp4_keeps_rate_timestamps_and_audio(tmp_path: Path, fps: Fraction) -> None:
    source = clips.make_clip(tmp_path / "in.mp4", fps=fps, frames=30, audio="aac").path
    writer = _reencode(source, tmp_path / "out.mp4", tmp_path / "audio.side")
    before, after = probe(source), probe(tmp_path / "out.mp4")
    assert (after.fps, after.frame_count, after.video_codec) == (fps, 30, "h264")
    assert after.duration_s == before.duration_s
    assert _timeline(tmp_path / "out.mp4") == _timeline(source)  # same pts, same pictures, same order
    assert writer.audio is not None
    assert writer.audio.copied
    assert _audio_packets(tmp_path / "out.mp4") == _audio_packets(source)
    assert before.audio is not None
    assert after.audio is not None
    assert abs(after.audio.duration_s - before.audio.duration_s) <= 1024 / 48000


def test_variable_timestamps_survive(tmp_path: Path) -> None:
    pts = [0, 40, 100, 120, 200, 210, 300]
    source = clips.make_clip(tmp_path / "in.mp4", frames=7, pts=pts, time_base=Fraction(1, 1000)).path
    _reencode(source, tmp_path / "out.mp4", tmp_path / "audio.side")
    assert _timeline(tmp_path / "out.mp4") == _timeline(source)
    assert probe(tmp_path / "out.mp4").variable_frame_rate


def test_audio_the_container_cannot_hold_is_transcoded(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "in.mkv", frames=25, audio="libopus").path
    writer = _reencode(source, tmp_path / "out.mp4", tmp_path / "audio.side")
    before, after = probe(source), probe(tmp_path / "out.mp4")
    assert writer.audio is not None
    assert not writer.audio.copied
    assert before.audio is not None
    assert after.audio is not None
    assert after.audio.codec == "aac"
    assert abs(after.audio.duration_s - before.audio.duration_s) <= 1024 / 48000


def test_webm_gets_opus_and_millisecond_timestamps(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "in.mp4", fps=Fraction(24000, 1001), frames=24, audio="aac").path
    _reencode(source, tmp_path / "out.webm", tmp_path / "audio.side")
    after = probe(tmp_path / "out.webm")
    assert after.fps == Fraction(24000, 1001)
    assert after.audio is not None
    assert after.audio.codec == "opus"
    got, want = _timeline(tmp_path / "out.webm"), _timeline(source)
    assert [i for _, i in got] == [i for _, i in want]
    assert max(abs(float(a - b)) for (a, _), (b, _) in zip(got, want, strict=True)) <= 0.0005


def test_odd_size_is_padded_for_420(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "in.mkv", width=65, height=49, frames=3, codec="mjpeg").path
    _reencode(source, tmp_path / "out.mp4", tmp_path / "audio.side")
    after = probe(tmp_path / "out.mp4")
    assert (after.width, after.height, after.frame_count) == (66, 50, 3)
