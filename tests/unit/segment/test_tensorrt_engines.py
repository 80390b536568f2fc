"""The TensorRT path's decisions that need no GPU: the FP16 flag TensorRT 11 removed, the engine cache
(rebuilt when corrupt, pruned by last use), refusals TensorRT returns instead of raising, and `auto`
falling back when no engine can be had. The GPU runs themselves are in test_gpu.py."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agents.segment import backends
from agents.segment.backends import load_segmenter
from agents.segment.tensorrt_backend import _build, _checked, load_or_build, prune
from base.errors import ModelUnavailable


class _Recorder:
    """Stands in for any TensorRT object: records the calls made on it."""

    def __init__(self, calls: list[tuple[str, tuple[Any, ...]]], **answers: Any) -> None:
        self._calls, self._answers = calls, answers

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> Any:
            self._calls.append((name, args))
            return self._answers.get(name, _Recorder(self._calls, **self._answers))

        return call


class _Logger:
    WARNING = 1

    def __init__(self, level: int) -> None:
        self.level = level


def _fake_tensorrt(calls: list[tuple[str, tuple[Any, ...]]], *, with_fp16: bool) -> SimpleNamespace:
    flags = SimpleNamespace(FP16="fp16") if with_fp16 else SimpleNamespace()
    network = _Recorder(calls, get_input=SimpleNamespace(name="input"))
    builder = _Recorder(calls, create_network=network, build_serialized_network=b"engine")
    return SimpleNamespace(
        Logger=_Logger,
        Builder=lambda logger: builder,
        OnnxParser=lambda network, logger: _Recorder(calls, parse=True),
        BuilderFlag=flags,
    )


@pytest.mark.parametrize(("with_fp16", "flagged"), [(True, True), (False, False)])
def test_fp16_is_asked_for_only_where_tensorrt_has_the_flag(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, with_fp16: bool, flagged: bool
) -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        "agents.segment.tensorrt_backend._tensorrt", lambda: _fake_tensorrt(calls, with_fp16=with_fp16)
    )
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"onnx")
    assert _build(onnx, (256, 256), 8, half=True) == b"engine"
    assert (("set_flag", ("fp16",)) in calls) == flagged
    [(_, shapes)] = [c for c in calls if c[0] == "set_shape"]
    assert shapes == ("input", (1, 3, 256, 256), (8, 3, 256, 256), (8, 3, 256, 256))


def test_an_engine_is_built_once_then_loaded_from_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "tensorrt" / "a.engine"
    built: list[bytes] = []

    def build() -> bytes:
        built.append(b"engine")
        return b"engine"

    assert load_or_build(path, build, lambda data: data) == b"engine"
    assert path.read_bytes() == b"engine"
    assert load_or_build(path, build, lambda data: data) == b"engine"
    assert len(built) == 1


def test_a_corrupt_cached_engine_is_built_again(tmp_path: Path) -> None:
    path = tmp_path / "a.engine"
    path.write_bytes(b"garbage")

    def load(data: bytes) -> bytes:
        if data != b"engine":
            raise ModelUnavailable("TensorRT could not load the cached engine")
        return data

    assert load_or_build(path, lambda: b"engine", load) == b"engine"
    assert path.read_bytes() == b"engine"


def test_the_cache_keeps_the_most_recently_used_engines(tmp_path: Path) -> None:
    for age, name in enumerate(["new", "mid", "old", "oldest"]):
        engine = tmp_path / f"{name}.engine"
        engine.write_bytes(b"x")
        os.utime(engine, (1_000_000 - age * 100, 1_000_000 - age * 100))
    (tmp_path / "notes.txt").write_text("not an engine")
    gone = prune(tmp_path, keep=2)
    assert sorted(p.name for p in gone) == ["old.engine", "oldest.engine"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mid.engine", "new.engine", "notes.txt"]


def test_a_refused_shape_is_an_error_not_silence() -> None:
    _checked(True, "take input", (8, 3, 256, 256))
    with pytest.raises(
        ModelUnavailable, match=r"could not take input for a batch of shape \(9, 3, 256, 256\)"
    ):
        _checked(False, "take input", (9, 3, 256, 256))


def test_auto_falls_back_when_no_engine_can_be_had(
    monkeypatch: pytest.MonkeyPatch, model_cache: Path
) -> None:
    # As on a GPU machine whose TensorRT engine cannot be built: here, because there is no GPU at all.
    monkeypatch.setattr(backends, "_choose_backend", lambda spec, cuda: "tensorrt")
    assert load_segmenter("selfie", cache_dir=model_cache, batch_size=2).backend == "torch"
    with pytest.raises(ModelUnavailable, match="tensorrt"):
        load_segmenter("selfie", "tensorrt", cache_dir=model_cache, batch_size=2)
