from __future__ import annotations

import itertools

import pytest

from schemas.graph import CHUNK_STAGES
from schemas.progress import job_progress


def test_nothing_known_yet() -> None:
    progress = job_progress({}, None, None, None)
    assert (progress.percent, progress.frames_done, progress.eta_s, progress.fps) == (0, 0, None, None)


def test_percent_grows_with_every_stage_and_stops_short_of_100_until_completed() -> None:
    seen = []
    stages = dict.fromkeys(CHUNK_STAGES, 0)
    for stage, _ in itertools.product(CHUNK_STAGES, range(4)):
        stages[stage] += 1
        seen.append(job_progress(stages, 4, 400, 10.0).percent)
    assert seen == sorted(seen)
    assert seen[-1] == 99
    assert job_progress(stages, 4, 400, 12.0, completed=True).percent == 100


def test_frames_follow_the_encoded_chunks_and_the_pace_sets_the_eta() -> None:
    half = dict.fromkeys(CHUNK_STAGES, 2)
    progress = job_progress(half, 4, 400, 20.0)
    assert progress.percent == 50
    assert progress.frames_done == 200
    assert progress.fps == 10.0
    assert progress.eta_s == pytest.approx(20.0)  # every stage half done: as long again


def test_a_late_or_repeated_count_never_goes_past_the_total() -> None:
    assert job_progress(dict.fromkeys(CHUNK_STAGES, 9), 4, 400, 5.0).percent == 99


def test_the_eta_goes_by_the_slowest_stage_once_each_has_a_pace() -> None:
    ahead = {"score": 4, "segment": 4, "matte": 3, "composite": 2, "encode": 2}
    assert job_progress(ahead, 4, 400, 10.0).eta_s == pytest.approx(10.0)  # 2 chunks left at 2 per 10 s
    behind = {**ahead, "encode": 0}
    progress = job_progress(behind, 4, 400, 10.0)
    share = progress.percent / 100
    assert progress.eta_s == pytest.approx(10.0 * (1 - share) / share, rel=0.05)  # no pace yet: the share
