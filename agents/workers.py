"""Which handler runs for which stage: the one place `backdrop worker STAGE` looks up."""

from __future__ import annotations

from typing import Literal, get_args

from agents.pipeline import StageContext
from backdrop.settings import Settings
from streams.worker import StageHandler

WorkerStage = Literal["extract", "score", "segment", "matte", "composite", "encode", "assemble"]
STAGES: tuple[str, ...] = get_args(WorkerStage)


def build_handler(stage: str, settings: Settings, context: StageContext) -> StageHandler:
    """The stage's handler; heavy imports (the model) happen only for the stage that needs them."""
    if stage == "extract":
        from agents.extract.worker import ExtractHandler

        return ExtractHandler(context)
    if stage == "score":
        from agents.score.worker import ScoreHandler

        return ScoreHandler(context)
    if stage == "segment":
        from agents.segment.backends import load_segmenter
        from agents.segment.worker import SegmentHandler

        return SegmentHandler(context, load_segmenter(cache_dir=settings.cache_dir, threads=1))
    if stage == "matte":
        from agents.matte.worker import MatteHandler

        return MatteHandler(context)
    if stage == "composite":
        from agents.composite.worker import CompositeHandler

        return CompositeHandler(context)
    if stage == "encode":
        from agents.encode.worker import EncodeHandler

        return EncodeHandler(context)
    if stage == "assemble":
        from agents.assemble.worker import AssembleHandler

        return AssembleHandler(context)
    raise ValueError(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
