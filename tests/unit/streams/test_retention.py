from __future__ import annotations

from schemas import JobCompleted, JobMetrics
from streams.retention import completion_key, intermediates, removable, upload_made_for, usage

JOB = "job_4vJ9kQ2mXcR7tP1sLwE8aZ"
P = f"jobs/{JOB}/"


def _completed(**changes: object) -> JobCompleted:
    return JobCompleted.model_validate(
        {
            "event_type": "completed",
            "job_id": JOB,
            "output_key": f"{P}assemble/output.mp4",
            "hero_keys": [f"{P}encode/00001/hero.png"],
            "poster_key": f"{P}assemble/poster.jpg",
            "metrics": JobMetrics(frames=48, duration_s=2, processing_s=1, fps=48),
            **changes,
        }
    )


KEYS = [
    f"{P}claim.json",
    f"{P}stopped",
    f"{P}assemble/output.mp4",
    f"{P}assemble/poster.jpg",
    f"{P}assemble/completed.json",
    f"{P}encode/00001/hero.png",
    f"{P}encode/00001/hero.json",
    f"{P}encode/00001/segment.mp4",
    f"{P}matte/00001/alpha",
    f"{P}extract/audio",
]


def test_a_completed_job_keeps_its_outputs_and_markers() -> None:
    assert intermediates(KEYS, JOB, _completed()) == [
        f"{P}encode/00001/hero.json",
        f"{P}encode/00001/segment.mp4",
        f"{P}matte/00001/alpha",
        f"{P}extract/audio",
    ]


def test_a_job_that_did_not_complete_keeps_only_its_markers() -> None:
    assert intermediates(KEYS, JOB, None) == KEYS[2:]


def test_outputs_outside_the_jobs_prefix_protect_nothing() -> None:
    forged = _completed(output_key="jobs/job_other/assemble/output.mp4", hero_keys=[], poster_key=None)
    assert f"{P}assemble/output.mp4" in intermediates(KEYS, JOB, forged)
    assert intermediates(["jobs/job_other/x"], JOB, None) == []  # another job's keys are never named


def test_deleting_a_job_keeps_only_the_markers() -> None:
    assert removable(KEYS, JOB) == KEYS[2:]


def test_only_the_upload_made_for_the_job_goes_with_it() -> None:
    assert upload_made_for(f"owners/key_a/submitted/{JOB}/talk.mp4", "key_a", JOB)
    assert upload_made_for(f"owners/key_a/presigned/{JOB}/talk.mp4", "key_a", JOB)
    assert not upload_made_for("owners/key_a/library/talk.mp4", "key_a", JOB)
    assert not upload_made_for(f"owners/key_b/submitted/{JOB}/talk.mp4", "key_a", JOB)
    assert not upload_made_for(f"submitted/{JOB}/talk.mp4", None, JOB)


def test_usage_splits_outputs_from_intermediates() -> None:
    sizes = dict.fromkeys(KEYS, 10) | {completion_key(JOB): 5}
    found = usage(sizes, JOB, _completed())
    assert (found.objects, found.bytes, found.output_bytes, found.intermediate_bytes) == (10, 95, 55, 40)
