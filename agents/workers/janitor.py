"""``backdrop worker janitor``: when a job ends, stop what is left of it and delete its intermediates.

Reads ``backdrop.jobs`` in its own consumer group. On a job's end (completed, failed or cancelled):

1. it leaves the stop marker (the API's cancel has left one already), so workers skip the job's
   chunks still queued;
2. it waits until ``BACKDROP_CLEANUP_GRACE_S`` after the end, so a chunk already in a worker's hands
   has finished writing;
3. it deletes the job's objects but its outputs and markers (``streams.retention``).

Jobs end in about the order their events arrive, so the wait is paid about once per grace period, not
once per job. Every step can be done again: a redelivered end (a crash before the commit) finds less
or nothing to do. The completion record decides what a completed job keeps, whatever events say: a
`failed` that arrives after a job completed takes none of its outputs.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaException, Message, TopicPartition
from prometheus_client import Counter

from base.settings import Settings
from schemas import JobCancelled, JobCompleted, JobFailed
from streams.consumer_loop import ConsumerLoop
from streams.delivery import RetryPolicy
from streams.jobs_feed import read_lifecycle
from streams.metrics import WorkerMetrics, served
from streams.retention import intermediates, recorded_completion
from streams.s3_store import s3_store
from streams.stopped import stop_key
from streams.store import ObjectStore, job_prefix
from streams.topics import JOBS

log = logging.getLogger("backdrop.janitor")
BATCH = 100
Ended = JobCompleted | JobFailed | JobCancelled

DELETED_BYTES = Counter(
    "backdrop_janitor_deleted_bytes", "Bytes of intermediates the janitor deleted from the artifacts bucket."
)
DELETED_OBJECTS = Counter(
    "backdrop_janitor_deleted_objects", "Intermediate objects the janitor deleted from the artifacts bucket."
)


def stop_reason(event: Ended) -> str:
    match event:
        case JobCompleted():
            return "completed"
        case JobFailed():
            return f"failed: {event.code}"
        case JobCancelled():
            return f"cancelled: {event.reason}"


class Janitor:
    def __init__(
        self,
        settings: Settings,
        store: ObjectStore | None = None,
        metrics: WorkerMetrics | None = None,
        group: str | None = None,
    ) -> None:
        """``store``: the artifacts bucket (default: the configured one); ``group``: the consumer group, by
        default ``<prefix>-janitor``; ``metrics``: the process's, counting the ends handled and the lag."""
        self.store = store or s3_store(settings)
        self.grace_s = settings.cleanup_grace_s
        self.metrics = metrics
        group = group or settings.consumer_group("janitor")
        self.loop = ConsumerLoop.in_group(
            settings,
            group,
            name="janitor",
            topics=[JOBS.name],
            policy=RetryPolicy(),
            metrics=metrics,
            max_batch=BATCH,
        )
        self.stopping = self.loop.stopping

    def install_signal_handlers(self) -> None:
        self.loop.install_signal_handlers()

    def run(self, max_messages: int | None = None) -> None:
        """Until stopped (SIGTERM/SIGINT), or ``max_messages`` were read."""
        self.loop.run(self._batch, max_messages=max_messages)

    def _batch(self, messages: list[Message]) -> bool:
        """Stop every job that ended in the batch, then clean up after each once its grace period has
        passed, then commit; False if stopped while waiting."""
        ends = [
            e
            for m in messages
            if isinstance(e := read_lifecycle(m.value()), JobCompleted | JobFailed | JobCancelled)
        ]
        # The markers first: waiting out one job's grace period must not let another's chunks run on.
        for event in ends:
            self.store.create(stop_key(event.job_id), stop_reason(event).encode(), "text/plain")
        for event in ends:
            if not self._clean(event):
                return False  # stopping: the batch stays uncommitted and is read again
        last = {(m.topic() or "", m.partition() or 0): m.offset() or 0 for m in messages}
        try:
            self.loop.consumer.commit(
                offsets=[TopicPartition(t, p, offset + 1) for (t, p), offset in last.items()],
                asynchronous=True,
            )
        except KafkaException as exc:  # lost the partitions: their next owner cleans up again, finding less
            log.warning("janitor: commit failed (%s); these ends will be read again", exc)
        return True

    def _clean(self, event: Ended) -> bool:
        job_id = event.job_id
        wait = event.occurred_at.timestamp() + self.grace_s - time.time()
        if wait > 0 and self.stopping.wait(wait):
            return False
        sizes = self.store.sizes(job_prefix(job_id))
        doomed = intermediates(sizes, job_id, recorded_completion(self.store, job_id))
        self.store.delete(doomed)
        freed = sum(sizes[key] for key in doomed)
        DELETED_OBJECTS.inc(len(doomed))
        DELETED_BYTES.inc(freed)
        if self.metrics is not None:
            self.metrics.outcome("handled")
        if doomed:
            log.info(
                "job %s %s: deleted %d intermediates, %d bytes", job_id, event.event_type, len(doomed), freed
            )
        return True


def run_janitor(settings: Settings) -> None:
    """``backdrop worker janitor``: clean up after every job that ends, until SIGTERM."""
    with served("janitor", settings) as metrics:
        janitor = Janitor(settings, metrics=metrics)
        janitor.install_signal_handlers()
        log.info("janitor: deleting intermediates %.0f s after each job ends", janitor.grace_s)
        janitor.run()
