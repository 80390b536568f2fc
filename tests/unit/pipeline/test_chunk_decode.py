from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.extract import ChunkSpec, decode_chunk, plan_chunks
from agents.workers.chunk_decode import DecodedChunk, decode_run, shared_pass
from tests import clips


def test_one_pass_gives_each_chunk_what_decoding_it_alone_gives(tmp_path: Path) -> None:
    # A keyframe every 25 frames and 8-frame chunks: several chunks start from each keyframe.
    clip = clips.make_clip(tmp_path / "clip.mp4", frames=60, gop=25)
    plan = plan_chunks(clip.path, chunk_seconds=8 / 24, warmup_frames=3)
    index = next(i for i, c in enumerate(plan) if c.seek_ts is not None and plan[i - 1].seek_ts == c.seek_ts)
    run = shared_pass(plan, index, budget_frames=10_000, cached=lambda c: False)
    assert len(run) > 1
    assert {c.seek_ts for c in run} == {plan[index].seek_ts}
    got: dict[int, DecodedChunk] = {}
    decode_run(clip.path, run, lambda chunk, decoded: got.setdefault(chunk.index, decoded))
    assert sorted(got) == [c.index for c in run]
    for chunk in run:
        (alone,) = decode_chunk(clip.path, chunk, batch_frames=chunk.frame_count)
        assert np.array_equal(got[chunk.index].frames, alone.frames)
        assert np.array_equal(got[chunk.index].pts, alone.pts)


def test_the_pass_stays_within_its_budget_and_skips_cached_chunks() -> None:
    plan = [ChunkSpec(i, i * 10, i * 10 + 10, max(0, i * 10 - 2), None, None) for i in range(6)]
    assert [c.index for c in shared_pass(plan, 3, budget_frames=0, cached=lambda c: False)] == [3]
    assert [c.index for c in shared_pass(plan, 3, budget_frames=24, cached=lambda c: False)] == [1, 2, 3]
    assert [c.index for c in shared_pass(plan, 3, 1000, cached=lambda c: c.index in {1, 5})] == [2, 3, 4]


def test_each_chunk_is_filled_where_allocate_says(tmp_path: Path) -> None:
    clip = clips.make_clip(tmp_path / "clip.mp4", frames=30, gop=30)
    plan = plan_chunks(clip.path, chunk_seconds=8 / 24, warmup_frames=3)
    run = shared_pass(plan, 1, budget_frames=10_000, cached=lambda c: False)
    given: dict[int, np.ndarray] = {}

    def allocate(chunk: ChunkSpec, shape: tuple[int, ...]) -> np.ndarray:
        given[chunk.index] = np.zeros(shape, np.uint8)
        return given[chunk.index]

    got: dict[int, DecodedChunk] = {}
    decode_run(clip.path, run, lambda chunk, decoded: got.setdefault(chunk.index, decoded), allocate)
    for chunk in run:
        assert got[chunk.index].frames is given[chunk.index]
        (alone,) = decode_chunk(clip.path, chunk, batch_frames=chunk.frame_count)
        assert np.array_equal(given[chunk.index], alone.frames)
