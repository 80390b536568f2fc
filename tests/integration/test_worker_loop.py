"""The stage worker's loop against the real broker: retries in place, dead letters, failed jobs, commits,
and a consumer that stopped receiving replaced by a new one.

The handler is a stand-in whose failures the test chooses, so each branch of `streams.worker.Worker` runs
on purpose; the consumer, producer, dead-letter topic, lifecycle topic and committed offsets are real.
The worker reads the real ``backdrop.stage.matte`` topic in a consumer group of its own that starts at the
topic's end, so it sees only what this test writes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, Message, Producer
from prometheus_client import CollectorRegistry

from base.settings import Settings
from schemas import LIFECYCLE_ADAPTER, JobFailed, StageProgress, new_job_id
from streams.admin import PartitionEnds, admin_client
from streams.attempts import AttemptLedger
from streams.consumer_loop import ConsumerLoop, consumer_config, producer_config
from streams.delivery import ERROR_TRACEBACK, DeadLetter, RetryPolicy, read_dead_letter
from streams.errors import ObjectNotFound, RetryableError
from streams.follow import consumer_at_end
from streams.headers import Headers, normalize
from streams.lag import group_lag
from streams.liveness import StallWatch
from streams.metrics import WorkerMetrics
from streams.topics import JOBS, stage_topic
from streams.worker import Handled, Outgoing, Worker
from tests.integration.pipeline_fixtures import begin_at_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TOPIC = stage_topic("matte").name
DEAD_LETTERS = "backdrop.dlq.matte"
ATTEMPTS = 3


@dataclass(frozen=True)
class Task:
    job_id: str


class ScriptedHandler:
    """Each job fails the way ``script[job_id]`` says, attempt after attempt, then succeeds."""

    stage = "matte"
    topics = (TOPIC,)

    def __init__(self, script: dict[str, list[Exception]]) -> None:
        self.script = script
        self.attempts: dict[str, int] = {}

    def decode(self, topic: str, value: bytes | None, headers: Headers) -> Task:
        return Task((value or b"").decode())

    def handle(self, event: Task) -> Handled:
        self.attempts[event.job_id] = self.attempts.get(event.job_id, 0) + 1
        failures = self.script.get(event.job_id, [])
        if failures:
            raise failures.pop(0)
        done = StageProgress(
            event_type="stage_progress", job_id=event.job_id, stage="matte", chunks_done=1, chunks_total=1
        )
        return Handled([Outgoing(JOBS.name, event.job_id, done)])


def _drain(consumer: Consumer, want: int, timeout_s: float = 30) -> list[Message]:
    found: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while len(found) < want and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            found.append(message)
    return found


def test_retries_dead_letters_and_commits_on_the_real_broker(infra: Settings) -> None:
    settings = infra.model_copy(update={"consumer_group_prefix": f"backdrop-test-loop-{new_job_id()[4:12]}"})
    group = settings.consumer_group("matte")
    begin_at_end(settings, group, [TOPIC])
    transient, broken, gone, fine = (new_job_id() for _ in range(4))
    handler = ScriptedHandler(
        {
            transient: [RetryableError("S3 is away"), RetryableError("S3 is still away")],
            broken: [RuntimeError(f"bug {n}") for n in range(ATTEMPTS)],
            gone: [ObjectNotFound("no object 'jobs/x/score/00000.npz' in bucket 'backdrop-artifacts'")],
        }
    )
    dead = consumer_at_end(settings, DEAD_LETTERS)
    lifecycle = consumer_at_end(settings, JOBS.name)
    try:
        producer = Producer(producer_config(settings))
        for job_id in (transient, broken, gone, fine):
            producer.produce(TOPIC, value=job_id.encode(), key=job_id.encode(), partition=0)
        assert producer.flush(10) == 0

        policy = RetryPolicy(max_attempts=ATTEMPTS, base_delay_s=0.05, max_delay_s=0.1)
        registry = CollectorRegistry()
        worker = Worker(handler, settings, policy=policy, metrics=WorkerMetrics("matte", registry))
        worker.run(max_messages=4)

        letters = _drain(dead, 2)
        events = [LIFECYCLE_ADAPTER.validate_json(m.value() or b"") for m in _drain(lifecycle, 4)]
    finally:
        dead.close()
        lifecycle.close()

    # Transient failures are retried in place until they pass; the job goes on.
    assert handler.attempts[transient] == 3
    assert handler.attempts[fine] == 1
    by_job = {event.job_id: event for event in events}
    assert isinstance(by_job[transient], StageProgress)
    assert isinstance(by_job[fine], StageProgress)

    # Anything else: ATTEMPTS tries, then a dead letter and a failed job; a missing object: one try.
    assert handler.attempts[broken] == ATTEMPTS
    assert handler.attempts[gone] == 1
    read: dict[str, DeadLetter] = {}
    for message in letters:
        read[(message.value() or b"").decode()] = read_dead_letter(normalize(message.headers()))
    assert set(read) == {broken, gone}
    assert (read[broken].error_code, read[broken].attempts, read[broken].stage) == (
        "internal_error",
        3,
        "matte",
    )
    assert (read[gone].error_code, read[gone].attempts) == ("object_not_found", 1)
    assert read[broken].source_topic == TOPIC
    traceback = dict(normalize(letters[0].headers())).get(ERROR_TRACEBACK)
    assert traceback, "the dead letter carries the traceback"
    for job_id, code in ((broken, "internal_error"), (gone, "object_not_found")):
        failed = by_job[job_id]
        assert isinstance(failed, JobFailed), failed
        assert (failed.code, failed.stage) == (code, "matte")

    # Its metrics say the same.
    def counted(outcome: str, code: str = "") -> float | None:
        labels = {"stage": "matte", "outcome": outcome, "code": code}
        return registry.get_sample_value("backdrop_messages_total", labels)

    assert (counted("handled"), counted("failed"), counted("skipped")) == (2, 0, 0)
    assert counted("dead_lettered", "internal_error") == counted("dead_lettered", "object_not_found") == 1
    assert registry.get_sample_value("backdrop_handle_seconds_count", {"stage": "matte"}) == 4
    assert registry.get_sample_value("backdrop_in_flight", {"stage": "matte"}) == 0

    # Every message was committed, the dead-lettered ones too: nothing is redone, nothing stalls.
    assert group_lag(admin_client(settings), group, [TOPIC]) == 0


def test_a_consumer_that_receives_nothing_while_messages_wait_is_replaced(
    infra: Settings, scratch_topic: str
) -> None:
    # A paused partition is a fetcher that fetches nothing while the group, heartbeats and polls go on:
    # what librdkafka can be left with after a broker outage (confluentinc/librdkafka#5153).
    group = f"test-stall-{new_job_id()[4:12]}"
    loop = ConsumerLoop(
        Consumer(consumer_config(infra, group)),
        Producer(producer_config(infra)),
        name="stall-test",
        topics=[scratch_topic],
        policy=RetryPolicy(),
        reconnect=lambda: Consumer(consumer_config(infra, group)),
        stall=StallWatch(stall_after_s=3, check_every_s=1),
        ends=PartitionEnds(lambda: admin_client(infra)),
    )
    received: list[bytes] = []

    def process(batch: list[Message]) -> bool:
        received.extend(message.value() or b"" for message in batch)
        return True

    first, paused = loop.consumer, threading.Event()

    def pause_once_assigned() -> None:  # on the loop's thread: a consumer serves one thread at a time
        if not paused.is_set() and loop.consumer is first and first.assignment():
            first.pause(first.assignment())
            paused.set()

    runner = threading.Thread(
        target=loop.run,
        args=(process,),
        kwargs={"max_messages": 3, "on_idle": pause_once_assigned},
        daemon=True,
    )
    runner.start()
    try:
        assert paused.wait(60), "the consumer was never assigned its partition"
        producer = Producer(producer_config(infra))
        for n in range(3):
            producer.produce(scratch_topic, value=f"message {n}".encode())
        assert producer.flush(10) == 0
        runner.join(60)
    finally:
        loop.stopping.set()  # a failed test leaves no loop polling behind it
    assert not runner.is_alive(), f"the stalled consumer was not replaced; received {received}"
    assert received == [b"message 0", b"message 1", b"message 2"]
    assert loop.consumer is not first


def test_the_backlog_is_measured_without_waiting_behind_the_consumers_fetches(infra: Settings) -> None:
    # Asked over the consumer's own connection, each partition's ends waited out the fetch in flight
    # (fetch.wait.max.ms, 500 ms): 6 s for a stage's 12 partitions, every 15 s, handling nothing.
    topic = stage_topic("encode")
    loop = ConsumerLoop.in_group(
        infra,
        f"test-backlog-{new_job_id()[4:12]}",
        name="backlog-test",
        topics=[topic.name],
        policy=RetryPolicy(),
    )
    try:
        loop.consumer.subscribe([topic.name])
        deadline = time.monotonic() + 60
        while not loop.consumer.assignment() and time.monotonic() < deadline:
            loop.poll()
        assert len(loop.consumer.assignment()) == topic.partitions
        loop.poll()  # a fetch in flight
        started = time.monotonic()
        backlog = loop._backlog()
        took = time.monotonic() - started
    finally:
        loop.consumer.close()
    assert backlog is not None
    assert took < 2.0, f"measuring the backlog of {topic.partitions} partitions took {took:.1f} s"


class WorkerKilled(BaseException):
    """What the test's handler raises to stand in for its process dying: nothing in the loop catches it,
    nothing is committed, and the consumer is closed on the way out, as a dead process's would be."""


class DeadlyHandler(ScriptedHandler):
    """A message whose job id starts with 'deadly' kills the worker; one that is not text breaks decode."""

    def decode(self, topic: str, value: bytes | None, headers: Headers) -> Task:
        return Task((value or b"").decode("ascii"))  # a UnicodeDecodeError, not a PoisonMessage, for b"\xff"

    def handle(self, event: Task) -> Handled:
        if event.job_id.startswith("deadly"):
            self.attempts[event.job_id] = self.attempts.get(event.job_id, 0) + 1
            raise WorkerKilled(event.job_id)
        return super().handle(event)


def test_a_message_that_kills_its_worker_is_dead_lettered_after_max_attempts(infra: Settings) -> None:
    # The attack: one message that takes its worker down (out of memory, a codec segfault). Counted only in
    # the worker's memory, every restarted worker tried it again, forever, and its partition never moved.
    settings = infra.model_copy(update={"consumer_group_prefix": f"backdrop-test-kill-{new_job_id()[4:12]}"})
    group = settings.consumer_group("matte")
    begin_at_end(settings, group, [TOPIC])
    deadly, after = "deadly_" + new_job_id(), new_job_id()
    producer = Producer(producer_config(settings))
    for value in (deadly.encode(), b"\xff\xfe not text", after.encode()):
        producer.produce(TOPIC, value=value, key=b"same-partition", partition=0)
    assert producer.flush(10) == 0

    dead = consumer_at_end(settings, DEAD_LETTERS)
    lifecycle = consumer_at_end(settings, JOBS.name)
    handler = DeadlyHandler({})
    policy = RetryPolicy(max_attempts=ATTEMPTS, base_delay_s=0.05, max_delay_s=0.1)
    try:
        for _ in range(ATTEMPTS):  # each worker dies on the message: a restart loop
            with pytest.raises(WorkerKilled):
                Worker(handler, settings, policy=policy, ledger=AttemptLedger.open(settings)).run(
                    max_messages=3
                )
        # The next worker does not try it again: dead letter, failed job, and the partition moves on.
        Worker(handler, settings, policy=policy, ledger=AttemptLedger.open(settings)).run(max_messages=3)
        letters = _drain(dead, 2)
        events = [LIFECYCLE_ADAPTER.validate_json(m.value() or b"") for m in _drain(lifecycle, 2)]
    finally:
        dead.close()
        lifecycle.close()

    assert handler.attempts[deadly] == ATTEMPTS
    read = {(m.value() or b""): read_dead_letter(normalize(m.headers())) for m in letters}
    assert read[deadly.encode()].error_code == "worker_died"
    assert read[deadly.encode()].attempts == ATTEMPTS
    # A decoder that throws (here a UnicodeDecodeError) dead-letters its message; the worker lives on.
    assert read[b"\xff\xfe not text"].error_code == "internal_error"
    by_job = {event.job_id: event for event in events}
    assert isinstance(by_job[deadly], JobFailed)
    assert by_job[deadly].code == "worker_died"
    assert isinstance(by_job[after], StageProgress)
