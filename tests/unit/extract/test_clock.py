"""Output timestamps: the source's own, or snapped to the frame grid where its clock cannot hold a frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from agents.extract import output_clock, probe, scan_packets
from agents.runner import process
from tests import clips


class _Flat:
    backend = "flat"

    def predict(self, frames: np.ndarray) -> np.ndarray:
        return np.full((len(frames), 16, 16), 0.5, np.float32)


def test_millisecond_stamps_of_30_fps_snap_to_the_frame_grid(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "clip.mkv", fps=Fraction(30), frames=20).path  # stamps 0, 33, 67 ms …
    info = probe(source)
    pts = scan_packets(info).pts
    assert pts is not None
    clock = output_clock(info, pts)
    assert clock.time_base == Fraction(1, 30)
    assert clock.stamps(np.asarray(pts)).tolist() == list(range(20))


def test_a_clock_that_holds_the_frame_is_kept(tmp_path: Path) -> None:
    for name, fps in (("a.mp4", Fraction(24000, 1001)), ("b.mkv", Fraction(25))):
        info = probe(clips.make_clip(tmp_path / name, fps=fps, frames=10).path)
        clock = output_clock(info, scan_packets(info).pts)
        assert clock.time_base == info.time_base
        assert clock.snap is None


def test_variable_rate_keeps_its_stamps(tmp_path: Path) -> None:
    source = clips.make_clip(
        tmp_path / "vfr.mkv", frames=6, pts=[0, 33, 100, 133, 250, 283], time_base=Fraction(1, 1000)
    ).path
    info = probe(source)
    assert info.variable_frame_rate
    assert output_clock(info, scan_packets(info).pts).snap is None


def test_matroska_at_30_fps_to_mp4_stays_exactly_30_fps(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "clip.mkv", fps=Fraction(30), frames=40).path
    out = tmp_path / "out.mp4"
    process(source, out, _Flat)
    written = probe(out)
    assert written.fps == Fraction(30)
    assert not written.variable_frame_rate
    assert written.frame_count == 40
