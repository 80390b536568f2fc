from __future__ import annotations

from pathlib import Path

import pytest

from agents.extract import Limits, probe, validate
from base.errors import LimitExceeded
from tests import clips


def test_within_limits_passes(tmp_path: Path) -> None:
    validate(probe(clips.make_clip(tmp_path / "ok.mp4").path), Limits())


@pytest.mark.parametrize(
    ("limits", "named"),
    [
        (Limits(max_width=32), "Limits.max_width"),
        (Limits(max_height=32), "Limits.max_height"),
        (Limits(max_duration_s=0.1), "Limits.max_duration_s"),
        (Limits(max_frames=5), "Limits.max_frames"),
        (Limits(max_bytes=100), "Limits.max_bytes"),
        (Limits(max_fps=24), "Limits.max_fps"),
    ],
)
def test_each_limit_is_named(tmp_path: Path, limits: Limits, named: str) -> None:
    info = probe(clips.make_clip(tmp_path / "clip.mp4", frames=10).path)
    with pytest.raises(LimitExceeded, match=named):
        validate(info, limits)


def test_limits_apply_after_rotation(tmp_path: Path) -> None:
    info = probe(clips.make_clip(tmp_path / "portrait.mp4", width=64, height=48, rotation=90).path)
    validate(info, Limits(max_width=48, max_height=64))
    with pytest.raises(LimitExceeded, match="width"):
        validate(info, Limits(max_width=47))
