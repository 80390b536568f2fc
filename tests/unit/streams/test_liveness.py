"""A consumer's pulse: written as the loop polls and works, read back, judged stale or not."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from confluent_kafka import TopicPartition

from streams.liveness import Pulse, PulseWriter, StallWatch, read_pulses, stale_reason
from tests.unit.streams.test_consumer_loop import FakeConsumer, FakeMessage, make_loop


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_pulse_is_written_at_most_every_interval_and_a_long_batch_shows_as_busy(tmp_path: Path) -> None:
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
    writer.busy(0)
    writer.beat()
    assert read_pulses(tmp_path)[0].busy_since is None  # a batch of moments never reaches the file
    clock.now = 1002.5
    writer.beat()  # the thread's beat, the batch still in hand
    busy = read_pulses(tmp_path)[0]
    assert (busy.busy_since, busy.polled_at) == (1001.5, 1001.0)
    clock.now = 1005.0
    writer.polling(lambda: 3, 1)
    back = read_pulses(tmp_path)[0]
    assert (back.busy_since, back.polled_at, back.handled) == (None, 1005.0, 1)
    writer.close()
    assert read_pulses(tmp_path) == []


def test_the_thread_keeps_a_stuck_loops_last_poll_on_file(tmp_path: Path) -> None:
    clock = Clock()
    writer = PulseWriter(tmp_path, "matte", interval_s=0.01, clock=clock)
    writer.polling(lambda: 3, 7)
    writer.start()
    clock.now = 1100.0  # the loop never polls again: the file goes on saying when it last did
    time.sleep(0.1)
    stuck = read_pulses(tmp_path)[0]
    assert (stuck.polled_at, stuck.busy_since, stuck.handled) == (1000.0, None, 7)
    assert stale_reason(stuck, now=clock.now) is not None
    writer.close()
    assert read_pulses(tmp_path) == []


def test_only_the_loop_s_thread_asks_the_consumer(tmp_path: Path) -> None:
    # After a broker outage a consumer's close can hang, and every call into that consumer with it. The
    # pulse's thread used to ask for the assignment while holding the lock the loop's next poll takes: a
    # projector stopped for good that way (and ignored SIGTERM). Now only the loop's own thread asks.
    askers: set[str] = set()

    def assigned() -> int:
        askers.add(threading.current_thread().name)
        return 3

    writer = PulseWriter(tmp_path, "projector", interval_s=0.005)
    writer.start()
    for handled in range(20):
        writer.polling(assigned, handled)
        writer.busy(handled)
        time.sleep(0.01)  # the pulse's thread beats meanwhile
    writer.close()
    assert askers == {threading.current_thread().name}


def test_read_pulses_skips_what_is_not_a_pulse_and_filters_by_name(tmp_path: Path) -> None:
    PulseWriter(tmp_path, "score").polling(lambda: 1, 0)
    PulseWriter(tmp_path, "projector").polling(lambda: 6, 0)
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


def test_the_loop_notes_each_poll_and_each_batch_it_starts(tmp_path: Path) -> None:
    seen: list[Pulse | None] = []
    pulse = PulseWriter(tmp_path, "matte", interval_s=0.0)
    loop, _, _, _ = make_loop([[FakeMessage(_offset=1)], [FakeMessage(_offset=2)]], pulse=pulse)

    def process(batch: list[object]) -> bool:
        pulse.beat()  # what the pulse's thread does every interval_s
        seen.append(read_pulses(tmp_path)[0])
        return True

    loop.run(process, max_messages=2)  # type: ignore[arg-type]
    assert [p.busy_since is not None for p in seen if p] == [True, True]
    assert [p.handled for p in seen if p] == [0, 1]
    assert read_pulses(tmp_path) == []  # the loop took its pulse away as it closed


def test_a_stall_is_messages_waiting_through_every_check_for_the_whole_period() -> None:
    clock, backlog = Clock(), [5]
    watch = StallWatch(stall_after_s=60, check_every_s=15, clock=clock)
    verdicts = []
    for _ in range(6):
        clock.now += 15
        verdicts.append(watch.stalled(lambda: backlog[0]))
    assert verdicts == [False, False, False, False, True, False]  # waiting since the first check: 60 s

    clock.now += 15
    assert not watch.stalled(lambda: backlog[0])  # a new period began with the new consumer
    clock.now += 60
    watch.received()  # something arrived: the wait starts over
    assert not watch.stalled(lambda: backlog[0])
    clock.now += 5
    assert not watch.stalled(lambda: 1 / 0)  # type: ignore[arg-type,return-value]  # not asked between checks
    backlog[0] = 0
    clock.now += 15
    assert not watch.stalled(lambda: backlog[0])  # drained: no stall, whatever the time
    clock.now += 100
    assert not watch.stalled(lambda: backlog[0])


def test_a_backlog_that_cannot_be_measured_for_the_whole_period_is_a_stall() -> None:
    clock, backlog = Clock(), [None, None, None, None, None]
    watch = StallWatch(stall_after_s=60, check_every_s=15, clock=clock)
    verdicts = []
    for value in backlog:
        clock.now += 15
        verdicts.append(watch.stalled(lambda: value))  # noqa: B023  # called before the next value
    assert verdicts == [False, False, False, False, True]

    clock.now += 15
    assert not watch.stalled(lambda: None)  # the new consumer gets its own period
    clock.now += 15
    assert not watch.stalled(lambda: 0)  # measured again, and empty: the wait starts over
    for _ in range(4):
        clock.now += 15
        assert not watch.stalled(lambda: None)


class StuckConsumer(FakeConsumer):
    """Assigned a partition with messages past its position, yet every poll comes back empty."""

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("backdrop.stage.matte", 0)]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, 3) for tp in partitions]

    def get_watermark_offsets(self, partition: TopicPartition, timeout: float) -> tuple[int, int]:
        return 0, 5


def run_replacing(
    stuck: FakeConsumer, fresh: FakeConsumer, clock: Clock, messages: int, **options: Any
) -> list[int]:
    """Run a loop on ``stuck`` (each empty poll takes 5 s) that replaces it with ``fresh`` once the stall
    watch says so, until ``messages`` are handled; their offsets."""
    watch = StallWatch(stall_after_s=60, check_every_s=15, clock=clock)
    loop, _, _, _ = make_loop([], stall=watch, **options)
    loop.consumer = stuck  # type: ignore[assignment]
    loop.reconnect = lambda: fresh  # type: ignore[assignment,return-value]
    stuck.consume = lambda n, t: clock.__setattr__("now", clock.now + 5) or []  # type: ignore[method-assign]
    handled: list[int] = []

    def process(batch: list[FakeMessage]) -> bool:
        handled.extend(message.offset() for message in batch)
        return True

    loop.run(process, max_messages=messages)  # type: ignore[arg-type]
    return handled


def test_the_loop_replaces_a_consumer_that_receives_nothing_while_messages_wait() -> None:
    clock = Clock()
    stuck = StuckConsumer([])
    fresh = FakeConsumer([[FakeMessage(_offset=3)], [FakeMessage(_offset=4)]])
    assert run_replacing(stuck, fresh, clock, 2) == [3, 4]
    assert ("close", None) in stuck.calls  # left the group before the new consumer joined
    assert fresh.calls[0][0] == "subscribe"
    assert clock.now - 1000 >= 60  # not before the stall period ran out


class OutsideTheGroup(FakeConsumer):
    """Polls, but holds no partition (after a broker restart the group was left empty); work waits."""

    committed_at = 3

    def assignment(self) -> list[TopicPartition]:
        return []

    def list_topics(self, topic: str, timeout: float) -> SimpleNamespace:
        return SimpleNamespace(topics={topic: SimpleNamespace(partitions={0: None, 1: None})})

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self.committed_at) for tp in partitions]

    def get_watermark_offsets(self, partition: TopicPartition, timeout: float) -> tuple[int, int]:
        return 0, 5


def test_a_consumer_assigned_nothing_while_its_group_has_work_waiting_is_replaced() -> None:
    clock = Clock()
    outside = OutsideTheGroup([])
    fresh = FakeConsumer([[FakeMessage(_offset=3)]])
    loop, _, _, _ = make_loop([], stall=StallWatch(stall_after_s=60, check_every_s=15, clock=clock))
    loop.consumer = outside  # type: ignore[assignment]
    loop.reconnect = lambda: fresh  # type: ignore[assignment,return-value]
    outside.consume = lambda n, t: clock.__setattr__("now", clock.now + 5) or []  # type: ignore[method-assign]

    loop.run(lambda batch: True, max_messages=1)  # type: ignore[arg-type,return-value]
    assert ("close", None) in outside.calls
    assert fresh.calls[0][0] == "subscribe"


def test_a_consumer_assigned_nothing_in_a_group_with_nothing_waiting_has_no_backlog() -> None:
    loop, _, _, _ = make_loop([])
    idle = OutsideTheGroup([])
    idle.committed_at = 5  # everything on both partitions committed
    loop.consumer = idle  # type: ignore[assignment]
    assert loop._backlog() == 0
    idle.committed_at = -1001  # nothing ever committed: from the first kept
    assert loop._backlog() == 10


class UnclosableConsumer(StuckConsumer):
    """Stuck, and its close waits for a coordinator that never answers (librdkafka#3740)."""

    def __init__(self) -> None:
        super().__init__([])
        self.released = threading.Event()

    def close(self) -> None:
        self.released.wait(30)


def test_a_consumer_that_never_closes_is_left_behind_and_the_loop_goes_on() -> None:
    stuck = UnclosableConsumer()
    fresh = FakeConsumer([[FakeMessage(_offset=3)]])
    started = time.monotonic()
    try:
        handled = run_replacing(stuck, fresh, Clock(), 1, close_timeout_s=0.05)
    finally:
        stuck.released.set()
    assert handled == [3]
    assert time.monotonic() - started < 10  # not the 30 s the old consumer's close takes
    assert ("close", None) in fresh.calls  # the loop's own close on the way out, bounded the same way
