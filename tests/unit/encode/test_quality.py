"""Quality presets change what the encoders write, visibly in the files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from agents.encode import VideoWriter
from schemas.options import Quality
from tests import clips

FRAMES = np.stack([clips.index_frame(i, 96, 64, alpha=True) for i in range(8)])
TEXTURED = np.random.default_rng(7).integers(0, 256, FRAMES.shape, dtype=np.uint8)  # detail to spend bits on
PRESETS: tuple[Quality, ...] = ("draft", "standard", "high")


def _write(path: Path, quality: Quality, alpha: bool = True, frames: np.ndarray = FRAMES) -> bytes:
    frames = frames if alpha else frames[..., :3]
    with VideoWriter(path, 96, 64, time_base=Fraction(1, 25), fps=Fraction(25), quality=quality) as writer:
        writer.write(frames, np.arange(len(frames)))
    return path.read_bytes()


def test_x264_states_each_presets_settings_in_its_stream(tmp_path: Path) -> None:
    written = {q: _write(tmp_path / f"{q}.mp4", q, alpha=False) for q in PRESETS}
    # x264 writes its settings into the stream (an SEI message): the preset's CRF and its analysis.
    assert b"crf=26.0" in written["draft"]
    assert b"crf=20.0" in written["standard"]
    assert b"crf=18.0" in written["high"]
    assert b"subme=0" in written["draft"]
    assert b"subme=7" in written["high"]


def test_vp9_presets_differ_in_size(tmp_path: Path) -> None:
    sizes = {q: len(_write(tmp_path / f"{q}.webm", q)) for q in PRESETS}
    assert len(set(sizes.values())) == 3, sizes


def test_prores_high_spends_more_bits_on_the_same_4444(tmp_path: Path) -> None:
    sizes = {}
    for quality in ("standard", "high"):
        path = tmp_path / f"{quality}.mov"
        sizes[quality] = len(_write(path, quality, frames=TEXTURED))
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.pix_fmt.startswith("yuva444p")
    assert sizes["high"] > sizes["standard"], sizes  # prores_ks against prores_aw
