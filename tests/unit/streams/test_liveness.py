"""A consumer's pulse: written as the loop polls and works, read back, judged stale or not."""

from __future__ import annotations

import os
from pathlib import Path

from streams.liveness import Pulse, PulseWriter, read_pulses, stale_reason
from tests.unit.streams.test_consumer_loop import FakeMessage, make_loop


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_polling_is_written_at_most_every_interval_and_busy_at_once(tmp_path: Path) -> None:
    clock = Clock()
    writer = PulseWriter(tmp_path, "matte", interval_s=2.0, clock=clock)
    writer.polling(lambda: 3, 0)
    (first,) = read_pulses(tmp_path)
    assert (first.name, first.pid, first.polled_at, first.busy_since, first.assigned) == (
        "matte",
        os.getpid(),
        1000.0,
        None,
        3,
    )
    clock.now = 1001.0
    writer.polling(lambda: 3, 0)
    assert read_pulses(tmp_path)[0].polled_at == 1000.0  # within the interval: not written again
    clock.now = 1001.5
    writer.busy(lambda: 3, 0)
    assert read_pulses(tmp_path)[0].busy_since == 1001.5  # a batch started: written at once
    clock.now = 1001.6
    writer.polling(lambda: 3, 1)
    back = read_pulses(tmp_path)[0]
    assert (back.busy_since, back.polled_at, back.handled) == (None, 1001.6, 1)  # no longer busy: at once
    writer.close()
    assert read_pulses(tmp_path) == []


def test_read_pulses_skips_what_is_not_a_pulse_and_filters_by_name(tmp_path: Path) -> None:
    PulseWriter(tmp_path, "score").busy(lambda: 1, 0)
    PulseWriter(tmp_path, "projector").busy(lambda: 6, 0)
    (tmp_path / "matte-9.pulse.json").write_text("{half a pulse")
    assert [p.name for p in read_pulses(tmp_path, "score")] == ["score"]
    assert sorted(p.name for p in read_pulses(tmp_path)) == ["projector", "score"]
    assert read_pulses(tmp_path / "missing") == []


def test_stale_means_quiet_too_long_or_busy_too_long() -> None:
    polling = Pulse("score", 7, polled_at=100.0, busy_since=None, assigned=2, handled=5)
    assert stale_reason(polling, now=150.0, max_quiet_s=60) is None
    assert stale_reason(polling, now=170.0, max_quiet_s=60) == "score (pid 7) has not polled for 70 s"
    busy = Pulse("score", 7, polled_at=100.0, busy_since=110.0, assigned=2, handled=5)
    assert stale_reason(busy, now=600.0, max_quiet_s=60, max_busy_s=900) is None  # a long chunk is fine
    assert (
        stale_reason(busy, now=1100.0, max_busy_s=900) == "score (pid 7) has been busy on one batch for 990 s"
    )


def test_the_loop_beats_before_each_poll_and_as_each_batch_starts(tmp_path: Path) -> None:
    seen: list[Pulse | None] = []
    pulse = PulseWriter(tmp_path, "matte", interval_s=0.0)
    loop, _, _, _ = make_loop([[FakeMessage(_offset=1)], [FakeMessage(_offset=2)]], pulse=pulse)

    def process(batch: list[object]) -> bool:
        seen.append(read_pulses(tmp_path)[0])
        return True

    loop.run(process, max_messages=2)  # type: ignore[arg-type]
    assert [p.busy_since is not None for p in seen if p] == [True, True]
    assert [p.handled for p in seen if p] == [0, 1]
    assert read_pulses(tmp_path) == []  # the loop took its pulse away as it closed
