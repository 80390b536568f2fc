from __future__ import annotations

from pathlib import Path

import pytest

from agents.extract import plan_chunks, probe
from base.errors import CorruptInput, InputEmpty, InputNotFound, UnsupportedInput
from tests import clips


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match="does not exist"):
        probe(tmp_path / "nothing.mp4")


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputEmpty, match="0 bytes"):
        probe(clips.make_empty(tmp_path / "empty.mp4"))


def test_not_media(tmp_path: Path) -> None:
    with pytest.raises(CorruptInput, match="re-upload"):
        probe(clips.make_not_media(tmp_path / "list.mp4"))


def test_truncated_mp4_header(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "whole.mp4", frames=20).path
    with pytest.raises(CorruptInput):
        probe(clips.make_truncated(source, tmp_path / "cut.mp4"))


def test_truncated_matroska_is_caught_when_planning(tmp_path: Path) -> None:
    source = clips.make_clip(tmp_path / "whole.mkv", frames=40).path
    cut = clips.make_truncated(source, tmp_path / "cut.mkv")
    with pytest.raises(CorruptInput, match="cut off"):
        plan_chunks(probe(cut))


def test_unknown_codec(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedInput, match="cannot decode"):
        probe(clips.make_unknown_codec(tmp_path / "odd.mkv"))


def test_audio_only(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedInput, match="no video stream"):
        probe(clips.make_audio_only(tmp_path / "song.m4a"))


def test_a_container_with_no_stream_is_empty(tmp_path: Path) -> None:
    # FFmpeg drops an MP4 track without samples: nothing is left.
    source = clips.make_clip(tmp_path / "clip.mp4", frames=1).path
    data = source.read_bytes()
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(data.replace(b"trak", b"free", 1))
    with pytest.raises(InputEmpty, match="empty"):
        probe(empty)
