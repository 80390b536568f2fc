"""Facts about a source video and about one chunk of it: small values that travel in events."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.common import Model

# An exact rational written 'NUM/DEN' (24000/1001 stays exact, unlike 23.976).
FRACTION_PATTERN = r"^[1-9][0-9]*/[1-9][0-9]*$"


# Examples shared by every event that carries these values (JSON Schema `examples`).
CHUNK_EXAMPLE = {"index": 3, "start": 144, "stop": 192, "warmup_start": 136, "count": 30}
MEDIA_EXAMPLE = {
    "width": 1280,
    "height": 720,
    "fps": "24000/1001",
    "time_base": "1/24000",
    "frame_count": 1440,
    "duration_s": 60.06,
    "has_audio": True,
    "rotation": 0,
    "is_image": False,
}


class MediaFacts(Model):
    """What the extract stage learned about the source; width and height are in display orientation."""

    width: int = Field(gt=0, description="Frame width in pixels, rotation applied.", examples=[1280])
    height: int = Field(gt=0, description="Frame height in pixels, rotation applied.", examples=[720])
    fps: str = Field(
        pattern=FRACTION_PATTERN,
        description="Exact average frame rate as 'NUM/DEN'.",
        examples=["24000/1001", "25/1"],
    )
    time_base: str = Field(
        pattern=FRACTION_PATTERN,
        description="Time base of the video stream as 'NUM/DEN'; timestamps elsewhere are in this unit.",
        examples=["1/24000", "1/90000"],
    )
    frame_count: int = Field(gt=0, description="Number of video frames (1 for a still).", examples=[1440])
    duration_s: float = Field(ge=0, description="Duration in seconds (0 for a still).", examples=[60.06])
    has_audio: bool = Field(
        description="Whether the source has an audio stream to carry over.", examples=[True]
    )
    rotation: Literal[0, 90, 180, 270] = Field(
        default=0,
        description="Degrees counter-clockwise the stored picture is turned for display.",
        examples=[0, 90],
    )
    is_image: bool = Field(
        default=False,
        description="True when the source is a still image (a one-chunk, one-frame job).",
        examples=[False],
    )


class ChunkRef(Model):
    """Frames of the job a chunk covers: [start, stop) are its output, [warmup_start, start) only warm up."""

    index: int = Field(ge=0, description="Position of the chunk in the job, from 0.", examples=[3])
    start: int = Field(
        ge=0, description="First output frame of the chunk (frame index in the job).", examples=[144]
    )
    stop: int = Field(gt=0, description="One past the last output frame of the chunk.", examples=[192])
    warmup_start: int = Field(
        ge=0,
        description="First decoded frame; frames before 'start' settle temporal state and are discarded.",
        examples=[136],
    )
    count: int = Field(gt=0, description="Total number of chunks in the job.", examples=[30])

    @model_validator(mode="after")
    def _ordered(self) -> ChunkRef:
        if not self.warmup_start <= self.start < self.stop:
            raise ValueError(
                f"chunk frames must satisfy warmup_start <= start < stop; got {self.warmup_start}, "
                f"{self.start}, {self.stop}"
            )
        if self.index >= self.count:
            raise ValueError(f"chunk index {self.index} is not below the chunk count {self.count}")
        return self
