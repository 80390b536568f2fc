"""Stage workers: one thin adapter per stage (``agents/workers/<stage>.py``); the registry of them."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias, TypeVar, assert_never

from agents.workers.context import StageContext
from base.settings import Settings
from schemas import PIPELINE, AssembleTask, ChunkTask, PipelineStage, SubmitJob, stage_named
from schemas.models import DEFAULT_MODEL
from streams.attempts import AttemptLedger
from streams.metrics import WorkerMetrics, served
from streams.telemetry import traced
from streams.topics import stage_inputs
from streams.worker import StageHandler, Worker

if TYPE_CHECKING:  # the extract module's imports (the media stack) wait until a worker needs them
    from agents.segment.backends import Segmenter
    from agents.workers.extract import Admission

# The stages whose handlers decode chunks (`StageContext.chunk_frames`): only they open a decoder.
DECODING_STAGES: frozenset[PipelineStage] = frozenset({"score", "segment", "matte", "composite"})
# A worker of any stage, by the event its handler takes (extract: a submit at its gate or after it, or None
# for a notification not for us).
E = TypeVar("E")
StageWorker: TypeAlias = "Worker[Admission | SubmitJob | None] | Worker[ChunkTask] | Worker[AssembleTask]"


def build_worker(
    stage: PipelineStage,
    settings: Settings,
    context: StageContext,
    stopped: Callable[[str], bool] | None = None,
    ledger: AttemptLedger | None = None,
    metrics: WorkerMetrics | None = None,
) -> StageWorker:
    """The stage's worker; heavy imports (the model) happen only for the stage that needs them."""

    def worker(handler: StageHandler[E]) -> Worker[E]:
        return Worker(handler, settings, stopped=stopped, ledger=ledger, metrics=metrics)

    match stage:
        case "extract":
            from agents.workers.extract import ExtractHandler

            return worker(ExtractHandler(context))
        case "score":
            from agents.workers.score import ScoreHandler

            return worker(ScoreHandler(context))
        case "segment":
            from agents.segment.backends import load_segmenter
            from agents.segment.registry import serving_registry
            from agents.workers.segment import SegmentHandler

            registry = serving_registry(settings.models)

            def load(name: str) -> Segmenter:
                return load_segmenter(name, cache_dir=settings.cache_dir, threads=1, registry=registry)

            handler = SegmentHandler(context, registry.names(), load)
            # The default model (or the first served) is loaded now: a broken install fails at start.
            handler.segmenter(DEFAULT_MODEL if DEFAULT_MODEL in registry.specs else registry.names()[0])
            return worker(handler)
        case "matte":
            from agents.matte import warm_up
            from agents.workers.matte import MatteHandler

            warm_up()  # compiled now (or read from numba's cache), so no chunk waits for the compiler
            return worker(MatteHandler(context))
        case "composite":
            from agents.workers.composite import CompositeHandler

            return worker(CompositeHandler(context))
        case "encode":
            from agents.workers.encode import EncodeHandler

            return worker(EncodeHandler(context))
        case "assemble":
            from agents.workers.assemble import AssembleHandler

            return worker(AssembleHandler(context))
    # mypy holds this line unreachable only while every stage of the graph has a case above.
    assert_never(stage)


def stage_topics() -> dict[str, tuple[str, ...]]:
    """Each stage → the topics its consumer group reads (the first stage: the ingest topics)."""
    return {stage: tuple(spec.name for spec in stage_inputs(stage)) for stage in PIPELINE}


def run_stage_worker(stage: str, settings: Settings, max_messages: int | None = None) -> None:
    """``backdrop worker STAGE``: consume the stage's topic until SIGTERM (or ``max_messages``)."""
    import cv2

    from base.heap import keep_freed_memory
    from streams.stopped import StoppedJobs

    named = stage_named(stage)
    keep_freed_memory()
    # Stages run side by side as processes (one per stage or more): OpenCV's own thread pool on top of
    # that only oversubscribes the cores and adds hand-offs.
    cv2.setNumThreads(1)

    context = StageContext.open(settings, decodes=named in DECODING_STAGES)
    try:
        with traced(named), served(named, settings) as metrics:
            worker = build_worker(
                named, settings, context, StoppedJobs.open(settings), AttemptLedger.open(settings), metrics
            )
            worker.install_signal_handlers()
            # Start-up's objects (modules, the model, numba's tables) live as long as the worker: frozen,
            # the collector's full passes skip them instead of holding the GIL to walk them per chunk.
            gc.freeze()
            worker.run(max_messages=max_messages)
    finally:
        context.close()
