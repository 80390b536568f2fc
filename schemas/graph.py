"""The stage graph, declared once: each stage's name, the order they run in, and which follows which.

extract cuts a submitted job into chunks; each chunk stage takes one chunk at a time and hands it to the
next; the last stage gathers a job's chunks. Topics, consumer groups, the handler registry, the API's
stage order and the deployment manifests all derive from ``PIPELINE``.
"""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

PipelineStage = Literal["extract", "score", "segment", "matte", "composite", "encode", "assemble"]
# The stages between the first (which cuts the chunks) and the last (which gathers them): a type of its
# own because ChunkTask is addressed only to these; tests/unit/schemas/test_graph.py keeps the two in step.
ChunkStage = Literal["score", "segment", "matte", "composite", "encode"]

# The stages in pipeline order.
PIPELINE: tuple[PipelineStage, ...] = get_args(PipelineStage)
CHUNK_STAGES: tuple[ChunkStage, ...] = get_args(ChunkStage)


def stage_named(name: str) -> PipelineStage:
    """The stage called ``name``; ValueError, naming the stages, when there is none."""
    for stage in PIPELINE:
        if stage == name:
            return stage
    raise ValueError(f"no stage named {name!r}; the stages are {', '.join(PIPELINE)}")


def next_stage(stage: PipelineStage) -> PipelineStage:
    """The stage that takes ``stage``'s output; ValueError for the last stage, which hands on nothing."""
    position = PIPELINE.index(stage) + 1
    if position == len(PIPELINE):
        raise ValueError(f"{stage} is the last stage: nothing follows it")
    return PIPELINE[position]


def is_chunk_stage(stage: str) -> TypeGuard[ChunkStage]:
    """Whether ``stage`` works on one chunk at a time (takes ChunkTask events)."""
    return stage in CHUNK_STAGES


def next_chunk_stage(stage: PipelineStage) -> ChunkStage:
    """The next stage when it takes a ChunkTask; ValueError when it does not (after the last chunk stage)."""
    following = next_stage(stage)
    if not is_chunk_stage(following):
        raise ValueError(f"{following} follows {stage} and takes no chunk task")
    return following
