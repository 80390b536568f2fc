"""Kafka offsets are released only once PostgreSQL has flushed the transactions behind them."""

from __future__ import annotations

from api.durable_offsets import DurableOffsets


def test_offsets_wait_for_a_flush_past_an_insert_position_read_after_the_commit() -> None:
    offsets = DurableOffsets()
    offsets.applied_batch([("jobs", 0, 10), ("jobs", 0, 11), ("jobs", 1, 5)])
    # The first read only marks: insert position 100 is at or past those commits.
    assert offsets.release(insert_lsn=100, flush_lsn=90) == {}
    assert offsets.release(insert_lsn=120, flush_lsn=99) == {}
    assert offsets.unflushed == 3
    assert offsets.release(insert_lsn=120, flush_lsn=100) == {("jobs", 0): 12, ("jobs", 1): 6}
    assert offsets.unflushed == 0


def test_a_batch_applied_after_the_mark_waits_for_the_next_mark() -> None:
    offsets = DurableOffsets()
    offsets.applied_batch([("jobs", 0, 1)])
    offsets.release(insert_lsn=100, flush_lsn=50)
    offsets.applied_batch([("jobs", 0, 2)])
    # The flush covers the first mark only; a new mark is taken at 130 for the second batch.
    assert offsets.release(insert_lsn=130, flush_lsn=100) == {("jobs", 0): 2}
    assert offsets.unflushed == 1
    assert offsets.release(insert_lsn=140, flush_lsn=129) == {}
    assert offsets.release(insert_lsn=140, flush_lsn=130) == {("jobs", 0): 3}


def test_a_restart_forgets_what_was_not_flushed() -> None:
    offsets = DurableOffsets()
    offsets.applied_batch([("jobs", 0, 1)])
    offsets.release(insert_lsn=100, flush_lsn=0)
    offsets.release(insert_lsn=100, flush_lsn=100)
    offsets.applied_batch([("jobs", 0, 2), ("jobs", 2, 7)])
    offsets.release(insert_lsn=200, flush_lsn=100)
    assert offsets.rewind() == {("jobs", 0): 2}
    assert offsets.unflushed == 0
    # The old mark is gone: a flush past it after the restart releases nothing.
    assert offsets.release(insert_lsn=300, flush_lsn=300) == {}


def test_revoked_partitions_are_left_to_their_next_owner() -> None:
    offsets = DurableOffsets()
    offsets.applied_batch([("jobs", 0, 1), ("jobs", 1, 1)])
    offsets.release(insert_lsn=100, flush_lsn=0)
    offsets.forget([("jobs", 1)])
    assert offsets.release(insert_lsn=100, flush_lsn=100) == {("jobs", 0): 2}
