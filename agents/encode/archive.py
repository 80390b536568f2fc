"""A PNG sequence as one ZIP archive: the pipeline's PNG output.

Each chunk's frames go into an archive of their own, stored uncompressed (PNG is compressed already);
assemble joins the chunks' archives by copying their entries, and adds the source audio beside the frames.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import av
import av.error
import numpy as np

from agents.encode.writer import png_bytes
from base.errors import CorruptInput, OutputError
from schemas.options import Quality

FRAME_NAME = "frame_{:06d}.png"  # numbered from the first frame of the whole video, as `process` names them


def write_png_archive(
    path: Path | str, frames: np.ndarray, first_index: int, quality: Quality = "standard"
) -> None:
    """Frames [T, H, W, 3 or 4] uint8 as PNGs numbered from ``first_index``, in a new archive at ``path``."""
    try:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            for offset, image in enumerate(frames):
                archive.writestr(FRAME_NAME.format(first_index + offset), png_bytes(image, quality))
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({exc}): check free space and permissions") from exc


def archive_frames(path: Path | str) -> list[str]:
    """The frame names an archive holds, in order; a damaged archive is a CorruptInput."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sorted(name for name in archive.namelist() if name.endswith(".png"))
    except (OSError, zipfile.BadZipFile) as exc:
        raise CorruptInput(
            f"{Path(path).name} is not a readable ZIP archive ({exc}): write it again"
        ) from exc


def join_png_archives(parts: Sequence[Path | str], out_path: Path | str, audio: Path | None = None) -> int:
    """One archive of every part's frames, which must number on from each other without a gap, plus
    ``audio`` as audio.m4a or audio.mka; returns the number of frames."""
    if not parts:
        raise OutputError(f"no archives to join into {Path(out_path).name}")
    expected = 0
    try:
        with zipfile.ZipFile(out_path, "w", zipfile.ZIP_STORED) as out:
            for part in parts:
                names = archive_frames(part)
                wanted = [FRAME_NAME.format(i) for i in range(expected, expected + len(names))]
                if not names or names != wanted:
                    raise CorruptInput(
                        f"{Path(part).name} holds frames {names[:1]}…{names[-1:]}, not from "
                        f"{FRAME_NAME.format(expected)} on: write that chunk again"
                    )
                with zipfile.ZipFile(part) as archive:
                    for name in names:
                        out.writestr(name, archive.read(name))
                expected += len(names)
            if audio is not None:
                out.write(audio, _audio_name(audio))
    except BaseException:
        Path(out_path).unlink(missing_ok=True)
        raise
    return expected


def _audio_name(audio: Path) -> str:
    """The side file is MP4 or Matroska by its codec (see `agents.extract.audio`): name it for players."""
    try:
        with av.open(str(audio)) as container:
            mp4 = "mp4" in container.format.name.split(",")
    except (OSError, av.error.FFmpegError) as exc:
        raise CorruptInput(f"cannot read the audio file {audio} ({exc}): extract the audio again") from exc
    return "audio.m4a" if mp4 else "audio.mka"
