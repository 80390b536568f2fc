from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from agents.runner.threads import Stage


def test_results_arrive_in_order_through_chained_stages() -> None:
    double = Stage("double", range(50), lambda x: [x * 2])
    split = Stage("split", double, lambda x: [x, x + 1])
    assert list(split) == [v for x in range(50) for v in (2 * x, 2 * x + 1)]


def test_a_stage_runs_at_most_maxsize_ahead() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    stage = Stage("bounded", source(), lambda x: [x], maxsize=2)
    time.sleep(0.2)
    # two queued, one held by the blocked put, one pulled but not yet worked on
    assert len(produced) <= 4
    stage.stop()


def test_an_error_in_a_stage_reaches_the_consumer() -> None:
    def explode(x: int) -> list[int]:
        if x == 3:
            raise RuntimeError("bad frame 3")
        return [x]

    first = Stage("first", range(10), explode)
    second = Stage("second", first, lambda x: [x])
    with pytest.raises(RuntimeError, match="bad frame 3"):
        list(second)


def test_stop_ends_the_thread_even_when_the_consumer_went_away() -> None:
    stage = Stage("endless", iter(int, 1), lambda x: [x], maxsize=1)
    next(iter(stage))
    stage.stop()
    assert not any(t.name == "backdrop-endless" and t.is_alive() for t in threading.enumerate())


def test_busy_time_counts_work_not_waiting() -> None:
    stage = Stage("sleepy", range(3), lambda x: (time.sleep(0.05), [x])[1])
    assert list(stage) == [0, 1, 2]
    assert 0.14 < stage.busy_s < 0.5
    assert stage.cpu_s < 0.05  # sleeping is wall time, not CPU


def test_cpu_time_counts_the_stage_threads_own_work() -> None:
    def spin(x: int) -> list[int]:
        until = time.thread_time() + 0.05
        while time.thread_time() < until:
            pass
        return [x]

    stage = Stage("busy", range(3), spin)
    assert list(stage) == [0, 1, 2]
    assert 0.15 <= stage.cpu_s <= stage.busy_s
