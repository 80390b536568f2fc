from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from agents.workers.frame_cache import FrameCache


def _chunk(count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    frames = np.random.default_rng(0).integers(0, 256, (count, 8, 12, 3), np.uint8)
    return frames, np.arange(count, dtype=np.int64) * 512


def test_a_chunk_put_is_read_back_whole(tmp_path: Path) -> None:
    cache = FrameCache(tmp_path / "frames", 1 << 20)
    frames, pts = _chunk()
    name = FrameCache.name("jobs/j/extract/source.mp4", 4)
    assert cache.get(name, 3) is None
    assert cache.put(name, frames, pts)
    assert cache.has(name)
    got = cache.get(name, 3)
    assert got is not None
    assert np.array_equal(got.frames, frames)
    assert np.array_equal(got.pts, pts)
    assert cache.get(name, 4) is None  # another frame count is another chunk: a miss, not a wrong answer
    cache.drop(name)
    assert cache.get(name, 3) is None


def test_the_limit_and_the_age_bound_what_is_kept(tmp_path: Path) -> None:
    frames, pts = _chunk()
    cache = FrameCache(tmp_path / "frames", frames.nbytes + 600, max_age_s=60)
    assert cache.put("a", frames, pts)
    assert not cache.put("b", frames, pts)  # no room: the next reader decodes
    old = time.time() - 120
    for path in (tmp_path / "frames").iterdir():
        os.utime(path, (old, old))
    assert cache.put("b", frames, pts)  # the stale entry was swept to make room
    assert not cache.has("a")


def test_a_zero_limit_turns_the_cache_off(tmp_path: Path) -> None:
    cache = FrameCache(tmp_path / "frames", 0)
    frames, pts = _chunk()
    assert not cache.put("a", frames, pts)
    assert cache.get("a", 3) is None
    assert cache.room_bytes() == 0


def test_a_chunk_is_not_kept_when_the_machine_cannot_spare_it(tmp_path: Path) -> None:
    frames, pts = _chunk()
    spare = [frames.nbytes - 1]
    cache = FrameCache(tmp_path / "frames", 1 << 30, spare=lambda: spare[0])
    assert cache.room_bytes() == frames.nbytes - 1
    assert not cache.put("a", frames, pts)  # the memory guard, not the byte limit, refuses it
    spare[0] = frames.nbytes
    assert cache.put("a", frames, pts)


def test_a_reserved_chunk_is_filled_in_place_and_seen_only_once_published(tmp_path: Path) -> None:
    frames, pts = _chunk()
    cache = FrameCache(tmp_path / "frames", 1 << 20)
    mapped = cache.reserve("a", frames.shape)
    assert mapped is not None
    mapped[:] = frames
    assert cache.get("a", 3) is None  # still being filled: readers decode for themselves
    assert cache.room_bytes() <= (1 << 20) - frames.nbytes  # yet its room is taken
    assert cache.publish("a", pts)
    got = cache.get("a", 3)
    assert got is not None
    assert np.array_equal(got.frames, frames)
    assert np.array_equal(got.pts, pts)


def test_an_abandoned_reservation_leaves_nothing(tmp_path: Path) -> None:
    frames, _ = _chunk()
    cache = FrameCache(tmp_path / "frames", 1 << 20)
    assert cache.reserve("a", frames.shape) is not None
    cache.abandon("a")
    assert list((tmp_path / "frames").iterdir()) == []
    assert cache.reserve("b", (10_000, 8, 12, 3)) is None  # past the limit: the decoder uses its own memory


def test_the_settings_reach_the_workers_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # README: BACKDROP_FRAME_CACHE_DIR / _MB (0 turns it off) / _KEEP_FREE, through `StageContext.open`.
    from agents.workers.context import StageContext
    from base.settings import Settings

    monkeypatch.setenv("BACKDROP_FRAME_CACHE_DIR", str(tmp_path / "frames"))
    monkeypatch.setenv("BACKDROP_FRAME_CACHE_MB", "3")
    context = StageContext.open(Settings())
    try:
        assert context.frames.folder == tmp_path / "frames"
        assert context.frames.limit_bytes == 3 * 2**20
        assert context.frames.put("c", np.zeros((1, 1024, 1024, 3), np.uint8), np.zeros(1, np.int64))
        assert not context.frames.put("d", np.zeros((1, 1024, 1024, 3), np.uint8), np.zeros(1, np.int64))
    finally:
        context.close()
    monkeypatch.setenv("BACKDROP_FRAME_CACHE_MB", "0")
    context = StageContext.open(Settings())
    try:
        assert context.frames.room_bytes() == 0  # off: every stage decodes its chunks itself
    finally:
        context.close()
    monkeypatch.delenv("BACKDROP_FRAME_CACHE_DIR")
    monkeypatch.setenv("BACKDROP_STATE_DIR", str(tmp_path / "a"))
    first = Settings().frame_cache_folder
    monkeypatch.setenv("BACKDROP_STATE_DIR", str(tmp_path / "b"))
    assert Settings().frame_cache_folder != first  # one cache per state folder
    assert Settings().frame_cache_keep_free == 0.25
