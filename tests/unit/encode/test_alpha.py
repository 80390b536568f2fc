from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from agents.encode import VideoWriter
from base.errors import OutputError
from tests import clips

FRAMES = np.stack([clips.index_frame(i, 64, 48, alpha=True) for i in range(4)])  # [4, 48, 64, 4] RGBA


def _write(path: Path | str) -> None:
    with VideoWriter(path, 64, 48, time_base=Fraction(1, 25), fps=Fraction(25)) as writer:
        writer.write(FRAMES, np.arange(4))


def _alpha_error(decoded: list[np.ndarray]) -> int:
    assert len(decoded) == len(FRAMES)
    return max(
        int(np.abs(d[..., 3].astype(int) - f[..., 3]).max()) for d, f in zip(decoded, FRAMES, strict=True)
    )


def test_webm_keeps_alpha(tmp_path: Path) -> None:
    _write(tmp_path / "out.webm")
    # FFmpeg's native vp9 decoder drops the alpha plane; libvpx-vp9 reads it.
    decoder = av.CodecContext.create("libvpx-vp9", "r")
    with av.open(str(tmp_path / "out.webm")) as container:
        decoded = [
            f.to_ndarray(format="rgba")
            for p in container.demux(container.streams.video[0])
            for f in decoder.decode(p)
        ]
    assert _alpha_error(decoded) <= 3


def test_mov_keeps_alpha(tmp_path: Path) -> None:
    _write(tmp_path / "out.mov")
    with av.open(str(tmp_path / "out.mov")) as container:
        assert container.streams.video[0].codec_context.name == "prores"
        decoded = [f.to_ndarray(format="rgba") for f in container.decode(video=0)]
    assert _alpha_error(decoded) <= 1


@pytest.mark.parametrize("target", ["frames/", "frames/shot_%04d.png"])
def test_png_sequence_keeps_alpha(tmp_path: Path, target: str) -> None:
    _write(f"{tmp_path}/{target}")
    files = sorted((tmp_path / "frames").glob("*.png"))
    decoded = [cv2.cvtColor(_read_png(f), cv2.COLOR_BGRA2RGBA) for f in files]
    assert _alpha_error(decoded) == 0
    assert [clips.frame_index(d) for d in decoded] == [0, 1, 2, 3]


def _read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


def test_mp4_refuses_alpha(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="transparency"):
        _write(tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_png_sequence_keeps_only_the_audio_stream_beside_the_frames(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "in.mp4", frames=4, audio="aac").path
    with VideoWriter(
        tmp_path / "frames" / "f_%03d.png", 64, 48, time_base=Fraction(1, 25), fps=Fraction(25), audio=source
    ) as writer:
        writer.write(FRAMES, np.arange(4))
    side = tmp_path / "frames" / "audio.m4a"
    with av.open(str(side)) as container:
        assert [s.type for s in container.streams] == ["audio"]
        assert container.streams.audio[0].codec_context.name == "aac"
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "audio.m4a",
        *(f"f_{i:03d}.png" for i in range(4)),
    ]
