"""Real camera footage through `process`: every clip and every output format keep the source's frame
count and exact frame rate, and a clip with nobody in it gives an (almost) fully transparent matte.

The clips (``/work/shared/testdata/real-footage``, see its README) come from intel-iot-devkit/sample-videos,
© Intel Corporation, licensed CC BY 4.0: again.mkv, yes.mkv and sister.mkv (a person signing to a webcam,
640×480, 30 fps, 65-87 frames), car-detection.mp4 (no person, 768×432, 12.5 fps, 377 frames, AAC audio)
and bottle-detection.mp4 (no person, 640×360, 179/6 fps, 1,189 frames).

Which clip × format pairs run, to keep this folder within 4 minutes on the 2-core machine (the whole
folder, tests/footage/test_bad_inputs.py included, measured 83 s there with other work running beside it,
131 s under heavy contention):
- again.mkv, yes.mkv, sister.mkv and car-detection.mp4, whole, to .mp4 (H.264): the format most jobs ask
  for; the car clip brings audio, a 12.5 fps rate and a 768×432 size;
- yes.mkv, the shortest clip, to the three alpha formats (.webm VP9, .mov ProRes 4444, PNG sequence): the
  formats differ in their encoder and container, not in what the clip is, so one short clip proves each;
  sister.mkv to .mov once more through the CLI (typer's CliRunner), as a user runs it;
- car-detection.mp4, whole, to transparent .mov: its mean alpha is the "nobody here" measurement. ProRes
  4444 keeps alpha at 12 bits and FFmpeg's own decoder reads it back, where VP9's alpha is lossy and
  needs the libvpx decoder; both take ~20 s for this clip;
- bottle-detection.mp4 once, its first BOTTLE_FRAMES frames (a stream copy the test makes, cut on a
  keyframe) to transparent .mov: today's false-positive level, asserted so that a change shows. The
  whole clip to .mp4 took 40 s on a lightly loaded machine and 154 s on a busy one (enough to take the
  folder past its budget there), and shows nothing its first 250 frames do not.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from agents.extract import probe
from agents.runner import ProcessOptions, ProcessReport, process
from agents.segment.backends import Segmenter
from backdrop.cli import app
from schemas.background import Background, Transparent

PEOPLE = ("again.mkv", "yes.mkv", "sister.mkv")
BOTTLE_FRAMES = 250  # keyframes every 250 frames
# Alpha of the transparent outputs (0-1, mean over a frame), measured on the 2-core machine with the
# default model on ONNX Runtime.
CAR_MEAN_ALPHA_MAX = 0.01  # measured 0.0014 over the clip: a sevenfold margin
CAR_WORST_FRAME_MAX = 0.1  # measured 0.033
BOTTLE_MEAN_ALPHA = 0.038  # measured 0.0380 over the first BOTTLE_FRAMES frames (worst frame 0.082)
BOTTLE_TOLERANCE = 0.006  # about 15 %: another CPU's rounding moves it by far less


def _run(
    segmenter: Segmenter, source: Path, output: Path, background: Background | None = None
) -> ProcessReport:
    return process(source, output, lambda: segmenter, ProcessOptions(background=background))


def video_packets(path: Path) -> int:
    """Frames stored in a file's video stream, counted from its packets (independently of Backdrop)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size > 0)


def assert_same_timing(source: Path, output: Path, report: ProcessReport) -> None:
    """The output holds every source frame, at the source's exact frame rate (PNGs have no rate)."""
    frames = video_packets(source)
    assert report.frames == frames
    if output.suffix == ".png":
        assert len(list(output.parent.glob("*.png"))) == frames
    else:
        assert video_packets(output) == frames
        assert probe(output).fps == probe(source).fps


def alpha_shares(mov: Path) -> np.ndarray:
    """Mean alpha (0-1) of each frame of a ProRes 4444 MOV."""
    with av.open(str(mov)) as container:
        return np.array([f.to_ndarray(format="rgba")[..., 3].mean() / 255 for f in container.decode(video=0)])


@pytest.mark.parametrize("name", [*PEOPLE, "car-detection.mp4"])
def test_every_clip_to_mp4(footage: Path, segmenter: Segmenter, tmp_path: Path, name: str) -> None:
    source, output = footage / name, tmp_path / "out.mp4"
    report = _run(segmenter, source, output)
    assert_same_timing(source, output, report)
    assert (probe(output).width, probe(output).height) == (probe(source).width, probe(source).height)
    assert (probe(output).audio is None) == (probe(source).audio is None)


@pytest.mark.parametrize("target", ["out.webm", "out.mov", "frames/frame_%06d.png"])
def test_every_alpha_format(footage: Path, segmenter: Segmenter, tmp_path: Path, target: str) -> None:
    source, output = footage / "yes.mkv", tmp_path / target
    report = _run(segmenter, source, output)
    assert_same_timing(source, output, report)


def test_cli_process(footage: Path, tmp_path: Path) -> None:
    source, output = footage / "sister.mkv", tmp_path / "signing.mov"
    result = CliRunner().invoke(app, ["process", str(source), "-o", str(output), "--json"])
    assert result.exit_code == 0, result.output
    assert video_packets(output) == video_packets(source)
    assert probe(output).fps == probe(source).fps == Fraction(30)


def test_nobody_in_the_car_park(footage: Path, segmenter: Segmenter, tmp_path: Path) -> None:
    source, output = footage / "car-detection.mp4", tmp_path / "cars.mov"
    report = _run(segmenter, source, output, background=Transparent())
    assert_same_timing(source, output, report)
    shares = alpha_shares(output)
    assert len(shares) == report.frames
    assert shares.mean() < CAR_MEAN_ALPHA_MAX
    assert shares.max() < CAR_WORST_FRAME_MAX


def test_bottles_false_positives_stay_at_todays_level(
    footage: Path, segmenter: Segmenter, tmp_path: Path
) -> None:
    """Today's model takes some bottles for a person; a change in that level (either way) must show."""
    source = trimmed_copy(footage / "bottle-detection.mp4", tmp_path / "bottles.mp4", BOTTLE_FRAMES)
    output = tmp_path / "bottles.mov"
    report = _run(segmenter, source, output, background=Transparent())
    assert_same_timing(source, output, report)
    assert report.frames == BOTTLE_FRAMES
    shares = alpha_shares(output)
    assert shares.mean() == pytest.approx(BOTTLE_MEAN_ALPHA, abs=BOTTLE_TOLERANCE), (
        "the default model's false positives on the bottle clip changed: if on purpose, re-measure "
        f"BOTTLE_MEAN_ALPHA (now {shares.mean():.4f}, worst frame {shares.max():.3f})"
    )


def trimmed_copy(source: Path, target: Path, frames: int) -> Path:
    """The source's video packets, copied untouched, up to the first keyframe at or after ``frames``."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        kept = 0
        for packet in inp.demux(stream):
            if packet.dts is None:
                continue
            if kept >= frames and packet.is_keyframe:
                break
            packet.stream = copy
            out.mux(packet)
            kept += 1
    return target
