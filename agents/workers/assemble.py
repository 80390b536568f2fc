"""The assemble worker: when every chunk of a job is encoded, join them, mux the audio, publish completion.

Stateless: which chunks are done is read from the object store (the chunks' segment objects), so
a restarted worker loses nothing. The completion event is recorded next to the output; a redone or
late task republishes those exact bytes.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import cv2
import orjson

from agents.encode.archive import join_png_archives
from agents.encode.images import write_poster
from agents.encode.join import join_segments
from agents.workers.context import (
    CUTOUT,
    HERO,
    SEGMENT_STAGE,
    StageTaskHandler,
    mask_name,
    output_file,
    segment_name,
    stage_prefix,
)
from schemas import AssembleTask, JobCompleted, JobMetrics, StageProgress, parse_lifecycle
from streams.codec import encode
from streams.retention import completion_key
from streams.store import object_key
from streams.topics import JOBS
from streams.worker import Handled, Outgoing, event_id


def output_key(task: AssembleTask) -> str:
    """output.mp4, .webm, .mov or .zip (a PNG sequence); a still's output.png, .jpg or .webp."""
    return object_key(task.job_id, "assemble", None, "output" + output_file(task.options, task.media)[0])


class AssembleHandler(StageTaskHandler[AssembleTask]):
    stage = "assemble"
    expects = AssembleTask

    def handle(self, task: AssembleTask) -> Handled:
        store = self.context.artifacts
        recorded = completion_key(task.job_id)
        if store.exists(recorded):
            # Done before (a redelivered or late task): publish the very same event again. Asked before
            # the segments are counted: once the job has ended, the janitor has deleted them.
            return Handled([Outgoing(JOBS.name, task.job_id, parse_lifecycle(store.get_bytes(recorded)))])
        count = task.chunk.count
        marker = segment_name(task.options, task.media)
        segments = [object_key(task.job_id, SEGMENT_STAGE, i, marker) for i in range(count)]
        present = set(store.list(stage_prefix(task.job_id, SEGMENT_STAGE)))
        done = sum(1 for key in segments if key in present)
        if done < count:
            progress = StageProgress(
                event_type="stage_progress",
                event_id=event_id(task.job_id, "progress", "assemble", task.chunk.index),
                job_id=task.job_id,
                stage="assemble",
                chunks_done=done,
                chunks_total=count,
            )
            return Handled([Outgoing(JOBS.name, task.job_id, progress)])
        work = self.context.cache_dir / f"assemble-{task.job_id}"
        work.mkdir(parents=True, exist_ok=True)
        try:
            heroes = self._heroes(task, present)
            # A hero's cut-out lies beside it (hero.png → cutout.png), when the output is not one already.
            cutouts = [c for h in heroes if (c := h.removesuffix(HERO) + CUTOUT) in present]
            poster_key = object_key(task.job_id, "assemble", None, "poster.jpg")
            self._join(task, segments, work)
            mask = self._mask(task, work) if task.options.mask else None
            if heroes:
                best = work / "best.png"
                store.get_file(heroes[0], best)
                image = cv2.imread(str(best))
                if image is not None:
                    write_poster(work / "poster.jpg", cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
                    store.put_file(poster_key, work / "poster.jpg", "image/jpeg")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # Chunk tasks carry the time extract first published them: the job's start.
        processing_s = max((datetime.now(UTC) - task.occurred_at).total_seconds(), 1e-3)
        completed = JobCompleted(
            event_type="completed",
            event_id=event_id(task.job_id, "completed"),
            job_id=task.job_id,
            output_key=output_key(task),
            hero_keys=heroes,
            poster_key=poster_key if heroes else None,
            cutout_keys=cutouts,
            mask_key=mask,
            metrics=JobMetrics(
                frames=task.media.frame_count,
                duration_s=task.media.duration_s,
                processing_s=round(processing_s, 3),
                fps=round(task.media.frame_count / processing_s, 2),
            ),
        )
        # Recorded before it is published: every later publication repeats these exact bytes.
        store.put_bytes(recorded, encode(completed), "application/json")
        return Handled([Outgoing(JOBS.name, task.job_id, completed)])

    def _join(self, task: AssembleTask, segments: list[str], folder: Path) -> None:
        suffix, media_type = output_file(task.options, task.media)
        local = []
        for index, key in enumerate(segments):
            path = folder / f"{index:05d}{suffix}"
            self.context.artifacts.get_file(key, path)
            local.append(path)
        audio = None
        if task.media.has_audio:
            audio = folder / "audio"
            self.context.artifacts.get_file(object_key(task.job_id, "extract", None, "audio"), audio)
        out = folder / f"output{suffix}"
        if task.media.is_image:
            out = local[0]  # one chunk of one frame, written as the still it stays
        elif task.options.output_format == "png":
            join_png_archives(local, out, audio)
        else:
            join_segments(local, out, audio)
        self.context.artifacts.put_file(output_key(task), out, media_type)

    def _mask(self, task: AssembleTask, folder: Path) -> str:
        """The chunks' mattes joined into one greyscale video (a still's is its one PNG); its key."""
        name = mask_name(task)
        store = self.context.artifacts
        parts = []
        for index in range(task.chunk.count):
            path = folder / f"mask-{index:05d}{Path(name).suffix}"
            store.get_file(object_key(task.job_id, SEGMENT_STAGE, index, name), path)
            parts.append(path)
        out = parts[0]
        if not task.media.is_image:
            out = folder / name
            join_segments(parts, out)
        key = object_key(task.job_id, "assemble", None, name)
        store.put_file(key, out, "image/png" if task.media.is_image else "video/mp4")
        return key

    def _heroes(self, task: AssembleTask, present: set[str]) -> list[str]:
        """The chunks' best stills, best first, at most ``options.heroes``."""
        ranked = []
        for i in range(task.chunk.count):
            key = object_key(task.job_id, SEGMENT_STAGE, i, HERO)
            facts = object_key(task.job_id, SEGMENT_STAGE, i, "hero.json")
            if key in present and facts in present:
                ranked.append((orjson.loads(self.context.artifacts.get_bytes(facts))["quality"], key))
        ranked.sort(reverse=True)
        return [key for _, key in ranked[: task.options.heroes]]
