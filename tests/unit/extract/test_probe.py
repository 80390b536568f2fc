from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from agents.extract import probe
from tests import clips


def test_ntsc_rate_stays_exact(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "ntsc.mp4", fps=Fraction(24000, 1001), frames=12)
    info = probe(clip.path)
    assert info.fps == Fraction(24000, 1001)
    assert (info.frame_count, info.frame_count_exact) == (12, True)
    assert info.duration_s == 12 * 1001 / 24000
    assert not info.variable_frame_rate
    assert (info.width, info.height, info.rotation, info.video_codec) == (64, 48, 0, "h264")


def test_pal_rate_and_audio(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "pal.mp4", fps=Fraction(25), frames=10, audio="aac")
    info = probe(clip.path)
    assert info.fps == 25
    assert info.audio is not None
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 48000, 2)
    assert abs(info.audio.duration_s - 0.4) < 0.03


def test_matroska_count_is_an_estimate(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "clip.mkv", fps=Fraction(30000, 1001), frames=15)
    info = probe(clip.path)
    assert info.fps == Fraction(30000, 1001)
    assert (info.frame_count, info.frame_count_exact) == (15, False)
    assert info.audio is None


def test_variable_frame_rate_is_detected(tmp_path: Path) -> None:
    pts = [0, 40, 100, 120, 200, 210, 300]
    clip = clips.make_clip(tmp_path / "vfr.mp4", frames=7, pts=pts, time_base=Fraction(1, 1000))
    info = probe(clip.path)
    assert info.variable_frame_rate
    assert info.frame_count == 7


def test_rotation_swaps_width_and_height(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "portrait.mp4", width=64, height=48, rotation=90)
    info = probe(clip.path)
    assert (info.width, info.height, info.rotation) == (48, 64, 90)
    assert info.stored_size == (64, 48)


def test_still_is_one_frame(tmp_path: Path) -> None:
    path = clips.make_still(tmp_path / "photo.jpg", width=64, height=48, exif_orientation=6)
    info = probe(path)
    assert info.is_image
    assert (info.frame_count, info.width, info.height) == (1, 48, 64)
    assert info.rotation == 270  # EXIF 6: turn 90° clockwise = 270° counter-clockwise
