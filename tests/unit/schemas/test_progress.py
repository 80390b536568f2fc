from __future__ import annotations

import itertools

import pytest

from schemas.graph import CHUNK_STAGES
from schemas.progress import StageClock, job_progress


def test_nothing_known_yet() -> None:
    progress = job_progress({}, None, None, None)
    assert (progress.percent, progress.frames_done, progress.eta_s, progress.fps) == (0, 0, None, None)


def test_percent_grows_with_every_stage_and_stops_short_of_100_until_completed() -> None:
    seen = []
    stages = dict.fromkeys(CHUNK_STAGES, StageClock(0))
    for stage, _ in itertools.product(CHUNK_STAGES, range(4)):
        stages[stage] = StageClock(stages[stage].done + 1)
        seen.append(job_progress(stages, 4, 400, 10.0).percent)
    assert seen == sorted(seen)
    assert seen[-1] == 99
    assert job_progress(stages, 4, 400, 12.0, completed=True).percent == 100


def counts(**done: int) -> dict[str, StageClock]:
    return {stage: StageClock(n) for stage, n in done.items()}


def test_frames_follow_the_encoded_chunks_and_the_share_sets_the_eta_until_each_stage_has_a_pace() -> None:
    half = counts(**dict.fromkeys(CHUNK_STAGES, 2))
    progress = job_progress(half, 4, 400, 20.0)
    assert progress.percent == 50
    assert progress.frames_done == 200
    assert progress.fps == 10.0
    assert progress.eta_s == pytest.approx(20.0)  # no times known: half done, as long again


def test_a_late_or_repeated_count_never_goes_past_the_total() -> None:
    assert job_progress(counts(**dict.fromkeys(CHUNK_STAGES, 9)), 4, 400, 5.0).percent == 99


def pipeline(first_s: float, pace_s: float, lag_s: float, done: list[int]) -> dict[str, StageClock]:
    """Stages whose first chunks come ``lag_s`` apart and then one every ``pace_s``."""
    return {
        stage: StageClock(n, first_s + i * lag_s, first_s + i * lag_s + (n - 1) * pace_s)
        for i, (stage, n) in enumerate(zip(CHUNK_STAGES, done, strict=True))
    }


def test_the_eta_goes_by_each_stages_pace_since_its_own_first_chunk() -> None:
    # 8 chunks, one a second in each stage, the pipeline filled after 4 s (score's first chunk at 2 s,
    # then 0.5 s from stage to stage): encode's last chunk at 4 + 7 = 11 s. At 6 s encode has done 3.
    stages = pipeline(2.0, 1.0, 0.5, [5, 4, 4, 3, 3])
    assert job_progress(stages, 8, 800, 6.0).eta_s == pytest.approx(5.0)
    # Paced from acceptance (3 chunks in 6 s, 5 to go) the fill time counted too: 10 s, twice too long.


def test_a_slow_stage_holds_up_every_stage_after_it() -> None:
    stages = pipeline(1.0, 1.0, 0.5, [8, 3, 3, 3, 3])
    stages["segment"] = StageClock(3, 1.5, 1.5 + 2 * 4.0)  # one chunk every 4 s: 5 to go, 20 s
    stages["matte"] = StageClock(3, 2.0, 2.0 + 2 * 1.0)  # fast, but fed at segment's pace
    end = 1.5 + 7 * 4.0 + 0.5 * 3  # segment's end, plus the lag to encode's first chunk
    assert job_progress(stages, 8, 800, 10.0).eta_s == pytest.approx(end - 10.0)


def test_the_first_stage_paces_its_first_chunk_from_acceptance() -> None:
    stages = pipeline(2.0, 1.0, 0.5, [1, 1, 1, 1, 1])
    # score: one chunk in 2 s, so 8 in 16 s; each later stage's first chunk 0.5 s behind.
    assert job_progress(stages, 8, 800, 4.0).eta_s == pytest.approx(16.0 + 4 * 0.5 - 4.0)


def test_a_finished_stage_ends_when_it_ended_and_a_late_job_says_zero_not_less() -> None:
    stages = pipeline(1.0, 1.0, 0.2, [4, 4, 4, 4, 4])
    assert job_progress(stages, 4, 400, 20.0).eta_s == 0.0


def test_without_a_count_from_every_stage_the_share_stands_in() -> None:
    stages = pipeline(2.0, 1.0, 0.5, [4, 4, 3, 2, 0])
    progress = job_progress(stages, 4, 400, 10.0)
    share = progress.percent / 100
    assert progress.eta_s == pytest.approx(10.0 * (1 - share) / share, rel=0.05)
    missing = {stage: clock for stage, clock in stages.items() if stage != "matte"}
    assert job_progress(missing, 4, 400, 10.0).eta_s is not None  # from the share, not an error
