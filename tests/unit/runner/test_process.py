"""The in-process runner's orchestration, with a stand-in segmenter (the real model has its own tests)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from agents.extract import probe
from agents.runner import ProcessOptions, process
from backdrop.sample import write_sample
from base.errors import CorruptInput, OutputError
from schemas.background import Blur, Transparent
from tests import clips


class EllipseSegmenter:
    """A person-shaped blob whose size follows the frame's brightness: deterministic, content-dependent."""

    backend = "test-ellipse"

    def predict(self, frames: np.ndarray) -> np.ndarray:
        out = np.zeros((len(frames), 64, 64), np.float32)
        for i, frame in enumerate(frames):
            radius = 12 + int(frame.mean()) % 8
            cv2.ellipse(out[i], (32, 40), (radius, 2 * radius), 0, 0, 360, 1.0, -1)
            out[i] = cv2.GaussianBlur(out[i], (0, 0), 2)
        return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "sample.mp4"
    write_sample(path, seconds=2.6, width=160, height=96, fps=Fraction(24000, 1001))
    return path


def test_output_keeps_frame_count_rate_timestamps_and_audio(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    report = process(clip, out, EllipseSegmenter, ProcessOptions(background=Blur()))
    source, result = probe(clip), probe(out)
    assert report.frames == result.frame_count == source.frame_count == 62
    assert result.fps == Fraction(24000, 1001)
    assert source.audio is not None
    assert result.audio is not None
    assert result.audio.duration_s == pytest.approx(source.audio.duration_s, abs=1024 / 48000)
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        assert [f.pts for f in a.decode(video=0)] == [f.pts for f in b.decode(video=0)]


def test_still_image_to_transparent_png(tmp_path: Path) -> None:
    still, out = tmp_path / "in.jpg", tmp_path / "out.png"
    write_sample(still, width=160, height=96)
    report = process(still, out, EllipseSegmenter)
    rgba = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert report.frames == 1
    assert rgba.shape == (96, 160, 4)
    assert rgba[..., 3].min() == 0
    assert rgba[..., 3].max() == 255


def test_hero_stills_and_poster(clip: Path, tmp_path: Path) -> None:
    report = process(
        clip, tmp_path / "out.mp4", EllipseSegmenter, ProcessOptions(stills_dir=tmp_path / "stills")
    )
    names = sorted(p.name for p in report.stills)
    assert len(names) == 6
    assert names[-1] == "poster.jpg"
    assert all((tmp_path / "stills" / n).stat().st_size > 0 for n in names)


def test_transparent_into_mp4_is_refused_before_any_work(clip: Path, tmp_path: Path) -> None:
    def never() -> EllipseSegmenter:
        raise AssertionError("the model must not load for a request that cannot succeed")

    with pytest.raises(OutputError, match=r"\.webm"):
        process(clip, tmp_path / "out.mp4", never, ProcessOptions(background=Transparent()))


def test_corrupt_input_fails_before_the_model_loads(tmp_path: Path) -> None:
    bad = tmp_path / "upload.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)

    def never() -> EllipseSegmenter:
        raise AssertionError("the model must not load for a corrupt input")

    with pytest.raises(CorruptInput):
        process(bad, tmp_path / "out.mp4", never)


def test_a_still_gives_a_still_and_a_video_a_video(clip: Path, tmp_path: Path) -> None:
    still = tmp_path / "in.png"
    write_sample(still, width=64, height=48)
    with pytest.raises(OutputError, match=r"write a still"):
        process(still, tmp_path / "out.mp4", EllipseSegmenter)
    with pytest.raises(OutputError, match=r"write a video"):
        process(clip, tmp_path / "out.png", EllipseSegmenter)


def test_a_clip_without_sound_gives_an_output_without_sound(tmp_path: Path) -> None:
    silent = clips.make_clip(tmp_path / "silent.mp4", width=96, height=64, frames=12).path
    report = process(silent, tmp_path / "out.mp4", EllipseSegmenter)
    result = probe(tmp_path / "out.mp4")
    assert report.frames == result.frame_count == 12
    assert result.audio is None


def test_the_batch_size_follows_the_frame_area() -> None:
    # README: "The batch size follows the frame area": a batch holds about the same pixels at any size.
    from agents.runner import default_batch

    assert default_batch(1280, 720) == 8
    assert default_batch(2560, 1440) == 2  # four times the area, a quarter of the frames
    assert default_batch(640, 360) == 32
    assert default_batch(7680, 4320) == 1  # never none
