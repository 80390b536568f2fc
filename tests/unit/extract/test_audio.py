from __future__ import annotations

from pathlib import Path

import av

from agents.extract import extract_audio
from tests import clips


def _packets(path: Path) -> list[tuple[int | None, int, bytes]]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(p.pts, p.duration or 0, bytes(p)) for p in container.demux(stream) if p.size]


def test_audio_is_copied_untouched(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "talk.mp4", frames=10, audio="aac")
    info = extract_audio(clip.path, tmp_path / "audio.side")
    assert info is not None
    assert info.codec == "aac"
    source, side = _packets(clip.path), _packets(tmp_path / "audio.side")
    assert side == source  # same bytes, same sample-exact timestamps (priming included)


def test_opus_is_copied_too(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "talk.mkv", frames=10, audio="libopus")
    info = extract_audio(clip.path, tmp_path / "audio.side")
    assert info is not None
    assert info.codec == "opus"
    assert [p[2] for p in _packets(tmp_path / "audio.side")] == [p[2] for p in _packets(clip.path)]


def test_no_audio_gives_none(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "silent.mp4")
    assert extract_audio(clip.path, tmp_path / "audio.side") is None
    assert not (tmp_path / "audio.side").exists()
