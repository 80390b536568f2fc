"""`backdrop` as a user runs it: real subprocesses, the real default model, tiny clips."""

from __future__ import annotations

import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import orjson
import pytest
import torch
from torch import Tensor, nn

from agents.extract import probe
from agents.segment.networks import export_onnx
from backdrop.sample import write_sample
from base.devices import cuda_gpu_count


def backdrop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backdrop", *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "clip.mp4"
    write_sample(path, seconds=1.0, width=192, height=108, fps=Fraction(30000, 1001))
    return path


def test_process_json_report(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = backdrop("process", str(clip), "-o", str(out), "--background", "#00ff00", "--json")
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert report["frames"] == probe(out).frame_count == probe(clip).frame_count
    assert report["backend"] == "onnxruntime"
    assert report["fps"] > 0
    assert report["peak_rss_mb"] > 0
    assert set(report["stage_seconds"]) == {"decode", "segment+score", "matte", "composite", "encode"}
    assert set(report["stage_cpu_seconds"]) == set(report["stage_seconds"])
    # the whole process's CPU holds every stage's own thread's, and the codecs' threads besides
    assert report["cpu_seconds"] >= sum(report["stage_cpu_seconds"].values()) > 0


def test_a_folder_named_with_a_slash_gets_a_png_sequence(clip: Path, tmp_path: Path) -> None:
    frames = tmp_path / "frames"  # not there yet: the trailing slash alone says it is a folder
    result = backdrop("process", str(clip), "-o", f"{frames}/")
    assert result.returncode == 0, result.stderr
    pngs = sorted(frames.glob("*.png"))
    assert len(pngs) == probe(clip).frame_count
    assert cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED).shape == (108, 192, 4)


def test_without_a_background_the_output_is_transparent_where_it_can_be_and_white_otherwise(
    clip: Path, tmp_path: Path
) -> None:
    import av

    mov, mp4 = tmp_path / "cut-out.mov", tmp_path / "cut-out.mp4"
    for out in (mov, mp4):
        result = backdrop("process", str(clip), "-o", str(out))
        assert result.returncode == 0, result.stderr
    with av.open(str(mov)) as container:
        alpha = next(container.decode(video=0)).to_ndarray(format="rgba")[..., 3]
    assert alpha.min() == 0  # the background is see-through
    assert alpha.max() == 255  # the person is not
    with av.open(str(mp4)) as container:
        rgb = next(container.decode(video=0)).to_ndarray(format="rgb24")
    corners = np.stack([rgb[0, 0], rgb[0, -1], rgb[-1, 0], rgb[-1, -1]]).astype(int)
    assert corners.min() >= 245, corners  # white, within H.264's rounding


def test_hero_stills_from_the_command_line(clip: Path, tmp_path: Path) -> None:
    # README: `backdrop process talk.mp4 -o talk-blurred.mp4 -b blur:20 --stills stills/ --json`
    stills = tmp_path / "stills"
    result = backdrop(
        "process",
        str(clip),
        "-o",
        str(tmp_path / "out.mp4"),
        "-b",
        "blur:20",
        "--stills",
        str(stills),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    written = sorted(path.name for path in stills.iterdir())
    assert "poster.jpg" in written
    assert len(written) >= 2  # the poster and at least one hero still
    assert sorted(Path(p).name for p in orjson.loads(result.stdout)["stills"]) == written


def test_bench_reports_process_against_the_floor(tmp_path: Path) -> None:
    # README: `backdrop bench --size … --seconds … --json`: the floor, process, their ratio, peak memory.
    result = backdrop("bench", "--size", "160x96", "--seconds", "1", "--device", "cpu", "--json")
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert report["decoded_on"] == "cpu"
    assert report["floor_fps"] > 0
    assert report["process_fps"] > 0
    assert report["ratio"] == pytest.approx(report["process_fps"] / report["floor_fps"], rel=0.01)
    assert report["peak_rss_mb"] > 0
    # `process` does the floor's decoding and encoding and more besides: it cannot take less CPU a frame
    assert report["process_cpu_ms_per_frame"] > report["floor_cpu_ms_per_frame"] > 0
    assert set(report["stage_cpu_ms_per_frame"]) == set(report["stage_ms_per_frame"])


@pytest.mark.skipif(cuda_gpu_count() > 0, reason="a CUDA GPU answers")
def test_bench_on_a_gpu_that_is_not_there_says_so() -> None:
    result = backdrop("bench", "--size", "160x96", "--seconds", "1", "--device", "cuda", "--json")
    assert result.returncode == 1
    assert "cuda was asked for" in result.stderr + result.stdout


def test_models_list_names_the_builtin_models() -> None:
    result = backdrop("models", "list")
    assert result.returncode == 0, result.stderr
    assert "selfie" in result.stdout
    assert "selfie-landscape" in result.stdout


def test_probe_exits_1_naming_a_consumer_that_stopped_polling(tmp_path: Path) -> None:
    import os
    import re
    import time

    from streams.liveness import PulseWriter

    env = {**os.environ, "BACKDROP_PULSE_DIR": str(tmp_path)}

    def probe_score() -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "backdrop", "probe", "score"]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)

    # The pulse of a live process (this one) that last polled five minutes ago.
    PulseWriter(tmp_path, "score", clock=lambda: time.time() - 300).polling(lambda: 12, 40)
    stale = probe_score()
    assert stale.returncode == 1
    assert re.search(rf"score \(pid {os.getpid()}\) has not polled for 30\d s", stale.stderr), stale.stderr
    PulseWriter(tmp_path, "score").polling(lambda: 12, 41)  # polling again
    fresh = probe_score()
    assert fresh.returncode == 0, fresh.stderr


def test_sample_then_process_a_still(tmp_path: Path) -> None:
    still, out = tmp_path / "person.jpg", tmp_path / "cut-out.png"
    assert backdrop("sample", str(still), "--size", "320x180").returncode == 0
    result = backdrop("process", str(still), "-o", str(out))
    assert result.returncode == 0, result.stderr
    rgba = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (180, 320, 4)
    # the person (centre bottom) is kept, the top corners are background
    assert rgba[150, 160, 3] == 255
    assert rgba[5, 5, 3] == 0


@pytest.mark.parametrize(
    ("make_input", "code"),
    [
        (lambda p: p.write_bytes(b""), "input_empty"),
        (lambda p: p.write_bytes(b"this is a text file, not a video\n" * 50), "input_corrupt"),
        (lambda p: None, "input_not_found"),
    ],
)
def test_bad_input_is_a_clear_error_without_traceback(tmp_path: Path, make_input: object, code: str) -> None:
    source = tmp_path / "upload.mp4"
    make_input(source)  # type: ignore[operator]
    result = backdrop("process", str(source), "-o", str(tmp_path / "out.mp4"))
    assert result.returncode == 1
    assert code in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_output(clip: Path, tmp_path: Path) -> None:
    result = backdrop("process", str(clip), "-o", str(tmp_path / "no" / "such" / "dir" / "out.avi"))
    assert result.returncode == 1
    assert "output_unwritable" in result.stderr


class _Brightness(nn.Module):
    """A user's 'model': foreground where the red channel is bright."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid((x[:, 0:1] - 0.5) * 20)


@pytest.mark.parametrize("kind", ["onnx", "torchscript"])
def test_a_users_model_by_model_card(tmp_path: Path, kind: str) -> None:
    # README: "your own ONNX or TorchScript model is a JSON card passed to `--model`".
    if kind == "onnx":
        model = tmp_path / "bright.onnx"
        export_onnx(_Brightness(), (64, 64), model)
    else:
        model = tmp_path / "bright.pt"
        with warnings.catch_warnings():  # deprecated in torch, but users still have such files
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.trace(_Brightness(), torch.zeros(1, 3, 64, 64)).save(str(model))
    card = tmp_path / "bright.json"
    card.write_bytes(
        orjson.dumps({"path": model.name, "input_size": [64, 64], "mean": [0, 0, 0], "std": [1, 1, 1]})
    )
    image = tmp_path / "in.png"
    picture = np.zeros((64, 96, 3), np.uint8)  # BGR: the left half bright red
    picture[:, :48, 2] = 255
    cv2.imwrite(str(image), picture)
    result = backdrop("process", str(image), "-o", str(tmp_path / "out.png"), "--model", str(card))
    assert result.returncode == 0, result.stderr
    alpha = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)[..., 3]
    assert alpha[:, :20].min() == 255  # the red half is foreground
    assert alpha[:, -20:].max() == 0


class _SeveralOutputs(nn.Module):
    """A model fed BGR pixels at 0–255 that returns (a side output, [background, person] logits)."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        person = (x[:, 2:3] - 127.5) / 200 - 0.3  # red → +0.34 (p 0.58); black → -0.94 (p 0.28)
        return torch.zeros_like(person), torch.cat([-person, person], dim=1)


def test_the_model_cards_fields_all_take_effect(tmp_path: Path) -> None:
    # README: a card may give `channel_order`, `scale`, `output: logits`, `output_index`, `output_channel`;
    # leaving out any one of them turns this model's answer for the red half into background.
    model = tmp_path / "several.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.trace(_SeveralOutputs(), torch.zeros(1, 3, 64, 64)).save(str(model))
    card = {
        "path": model.name,
        "input_size": [64, 64],
        "mean": [0, 0, 0],
        "std": [1, 1, 1],
        "channel_order": "bgr",
        "scale": 1.0,
        "output": "logits",
        "output_index": 1,
        "output_channel": 1,
    }
    (tmp_path / "card.json").write_bytes(orjson.dumps(card))
    image = tmp_path / "in.png"
    picture = np.zeros((64, 96, 3), np.uint8)  # BGR: the left half bright red
    picture[:, :48, 2] = 255
    cv2.imwrite(str(image), picture)
    out = tmp_path / "out.png"
    result = backdrop("process", str(image), "-o", str(out), "--model", str(tmp_path / "card.json"))
    assert result.returncode == 0, result.stderr
    alpha = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., 3]
    assert alpha[:, :20].min() > 128, alpha[:, :20].min()  # the red half is foreground
    assert alpha[:, -20:].max() < 128, alpha[:, -20:].max()


def test_every_command_has_help() -> None:
    for command in (
        "process",
        "sample",
        "bench",
        "models",
        "infra",
        "worker",
        "submit",
        "up",
        "down",
        "status",
    ):
        result = backdrop(command, "--help")
        assert result.returncode == 0, command
        assert "Usage" in result.stdout


def test_sign_prints_headers_the_gate_accepts(tmp_path: Path) -> None:
    from streams.signing import submit_secret, verify_submit

    submit = tmp_path / "submit.json"
    body = (
        b'{"event_type": "submit", "job_id": "job_4vJ9kQ2mXcR7tP1sLwE8aZ", "owner": "key_7Qm2",'
        b' "source": {"url": "https://media.example.com/talk.mp4"}}'
    )
    submit.write_bytes(body)
    secret = submit_secret("root", "key_7Qm2")
    result = backdrop("sign", str(submit), "--secret", secret)
    assert result.returncode == 0, result.stderr
    headers = [(name, value.encode()) for name, value in orjson.loads(result.stdout).items()]
    verify_submit(secret, "job_4vJ9kQ2mXcR7tP1sLwE8aZ", body, headers)
    # Nothing to prove without an owner, and nothing to prove it with without a secret: both explained.
    submit.write_bytes(body.replace(b'"owner": "key_7Qm2",', b""))
    ownerless = backdrop("sign", str(submit), "--secret", secret)
    assert ownerless.returncode != 0
    assert "names no owner" in ownerless.stderr
