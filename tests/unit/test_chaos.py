"""`backdrop soak --kills`: the fault plan, striking and restarting, and the webhook tally."""

from __future__ import annotations

import signal

import httpx
import orjson

from bench.chaos import Chaos, Fault, WebhookReceiver, plan


def test_a_plan_is_repeatable_and_leaves_the_end_of_the_run_quiet() -> None:
    first = plan(50, 600, ["segment-0", "projector-0"], seed=7, postgres_at_s=120)
    assert first == plan(50, 600, ["segment-0", "projector-0"], seed=7, postgres_at_s=120)
    assert first != plan(50, 600, ["segment-0", "projector-0"], seed=8, postgres_at_s=120)
    assert len(first) == 51
    assert [f.at_s for f in first] == sorted(f.at_s for f in first)
    assert all(f.at_s <= 540 for f in first)
    assert sum(1 for f in first if f.target == "postgres") == 1
    assert {f.target for f in first} == {"segment-0", "projector-0", "postgres"}


def test_faults_strike_when_due_and_what_was_struck_starts_again() -> None:
    killed: list[tuple[int, int]] = []
    crashed: list[str] = []
    restarts: list[float] = []
    now = [0.0]
    chaos = Chaos(
        [Fault(1.0, "segment-0"), Fault(1.5, "gone-0"), Fault(5.0, "postgres")],
        pids=lambda: {"segment-0": 11, "postgres": 12},
        restart=lambda: restarts.append(now[0]),
        restart_after_s=2.0,
        kill=lambda pid, sig: killed.append((pid, sig)),
        crashes={"postgres": lambda: crashed.append("postgres")},
    )
    for tick in (0.5, 1.0, 1.5, 3.0, 3.6, 5.0, 6.0):
        now[0] = tick
        chaos.tick(tick)
    chaos.finish()
    assert killed == [(11, signal.SIGKILL)]
    assert crashed == ["postgres"]
    assert [(s.target, s.pid) for s in chaos.struck] == [
        ("segment-0", 11),
        ("gone-0", None),
        ("postgres", 12),
    ]
    assert restarts == [3.6, 6.0]  # 2 s after the last strike of each burst; finish() owes nothing


def test_the_receiver_counts_deliveries_per_job_by_webhook_id() -> None:
    receiver = WebhookReceiver()
    try:
        for job_id, webhook_id in (
            ("job_a", "msg_1"),
            ("job_b", "msg_2"),
            ("job_b", "msg_2"),
            ("job_c", "m3"),
        ):
            body = orjson.dumps({"type": "job.completed", "data": {"job_id": job_id}})
            answer = httpx.post(receiver.url, content=body, headers={"webhook-id": webhook_id}, timeout=5)
            assert answer.status_code == 200
        httpx.post(receiver.url, content=b"{}", headers={"webhook-id": "m4"}, timeout=5)
        httpx.post(
            receiver.url, content=orjson.dumps({"data": {"job_id": "job_c"}}), headers={"webhook-id": "m5"}
        )
    finally:
        receiver.close()
    assert receiver.tally(["job_a", "job_b", "job_c", "job_d"]) == {
        "one": 2,
        "none": 1,
        "more": 1,
        "repeated_posts": 1,
    }
