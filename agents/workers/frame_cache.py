"""Decoded chunks shared by the stage workers of one machine, as RAM-backed files (an optimisation only).

Score, segment, matte and composite each need a chunk's full-resolution frames. Decoding a chunk costs
more than its own frames when the source has long keyframe intervals (x264's default is 250 frames:
each 2 s chunk then decodes ~4 s of video on average, ~7 ms a 720p frame), and four stages did it four
times. The first worker on a machine to decode a chunk leaves the frames here; the others map them
(~0.3 ms a frame). A miss only means decoding again: the object store stays the source of truth, and
workers on other machines decode as before. Bounded by the memory the machine can spare (a RAM disk is
memory) and optionally in bytes; composite, the last reader, removes the chunk, and entries older than
``max_age_s`` (a crashed job's) are swept by later writers.

Score runs ahead of the later stages, so a whole job's chunks wait here (a 60 s 720p clip is ~5.6 GB):
a fixed 3 GB bound made the later stages decode most chunks again (~12 % more CPU a frame).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import mmap
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)  # Linux only; elsewhere faulted page by page


@dataclass(frozen=True)
class CachedChunk:
    frames: np.ndarray  # [T, H, W, 3] uint8, read-only (mapped)
    pts: np.ndarray  # [T] int64


def no_memory_bound() -> int:
    """The memory guard of a cache bounded by its byte limit alone (tests)."""
    return 1 << 62


class FrameCache:
    """Chunks of frames by name in ``folder``: at most ``limit_bytes`` in all, at most ``spare()`` more."""

    def __init__(
        self,
        folder: Path,
        limit_bytes: int,
        max_age_s: float = 900.0,
        spare: Callable[[], int] = no_memory_bound,
    ) -> None:
        self.folder, self.limit_bytes, self.max_age_s, self.spare = folder, limit_bytes, max_age_s, spare
        if limit_bytes > 0:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if folder.is_symlink() or folder.stat().st_uid != os.getuid():
                self.limit_bytes = 0  # a shared temp folder someone else made: do not read or write there

    @staticmethod
    def name(source_key: str, chunk_index: int) -> str:
        """A file-safe name for one chunk of one job's source."""
        return f"{hashlib.sha256(source_key.encode()).hexdigest()[:24]}-{chunk_index}"

    def get(self, name: str, frame_count: int) -> CachedChunk | None:
        """The chunk's frames if they are here and whole, else None."""
        if self.limit_bytes <= 0:
            return None
        try:
            pts = np.load(self._path(name, "pts"), allow_pickle=False)
            frames = np.load(self._path(name, "frames"), mmap_mode="r", allow_pickle=False)
        except (FileNotFoundError, ValueError, EOFError, OSError):
            return None
        if frames.ndim != 4 or frames.shape[0] != frame_count or pts.shape != (frame_count,):
            return None
        return CachedChunk(frames, pts)

    def put(self, name: str, frames: np.ndarray, pts: np.ndarray) -> bool:
        """Keep the chunk if it fits under the limit; False when it did not."""
        if self.limit_bytes <= 0 or frames.nbytes > self.room_bytes():
            return False
        # pts first, frames last and each renamed into place whole: a reader sees all of a chunk or none.
        try:
            self._write(name, "pts", pts)
            self._write(name, "frames", frames)
        except OSError:
            # A full RAM disk is no error: the next reader decodes.
            self.drop(name)
            return False
        return True

    def _write(self, name: str, part: str, array: np.ndarray) -> None:
        """Write one part to a partial file and rename it into place whole."""
        partial = self._partial(name, part)
        try:
            with open(partial, "wb") as file:
                np.lib.format.write_array(file, np.ascontiguousarray(array), allow_pickle=False)
            partial.replace(self._path(name, part))
        except OSError:
            partial.unlink(missing_ok=True)
            raise

    def reserve(self, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """Writable frames [T, H, W, 3] uint8 mapped from a new file here, for a decoder to fill in place.

        None when they do not fit. Decoding straight into the RAM disk saves writing every frame out
        again (~2 ms a 720p frame); ``publish`` then makes the chunk visible, ``abandon`` drops it.
        """
        nbytes = int(np.prod(shape, dtype=np.int64))
        if self.limit_bytes <= 0 or nbytes > self.room_bytes():
            return None
        partial = self._partial(name, "frames")
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header,
            {
                "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                "fortran_order": False,
                "shape": shape,
            },
        )
        try:
            with open(partial, "w+b") as file:
                file.write(header.getvalue())
                # Take the RAM now: a full RAM disk fails here, not as SIGBUS on a write through the mapping.
                os.posix_fallocate(file.fileno(), 0, header.tell() + nbytes)
                # Map every page at once: faulting them in one by one on first write costs ~1 ms a frame.
                mapped = mmap.mmap(file.fileno(), header.tell() + nbytes, flags=MAP_FLAGS)
            return np.frombuffer(mapped, np.uint8, nbytes, header.tell()).reshape(shape)
        except OSError:
            partial.unlink(missing_ok=True)
            return None

    def publish(self, name: str, pts: np.ndarray) -> bool:
        """Make the chunk filled through ``reserve`` visible, with its ``pts``; False if it is gone."""
        try:
            self._write(name, "pts", pts)
            self._partial(name, "frames").replace(self._path(name, "frames"))
        except OSError:
            self.abandon(name)
            return False
        return True

    def abandon(self, name: str) -> None:
        """Drop a chunk reserved and not published (its decode failed)."""
        self._partial(name, "frames").unlink(missing_ok=True)

    def has(self, name: str) -> bool:
        return self.limit_bytes > 0 and self._path(name, "frames").exists()

    def room_bytes(self) -> int:
        """How many more bytes fit now: under the limit, and within the memory the machine can spare."""
        if self.limit_bytes <= 0:
            return 0
        return max(0, min(self.limit_bytes - self._used_bytes(), self.spare()))

    def drop(self, name: str) -> None:
        for part in ("frames", "pts"):
            self._path(name, part).unlink(missing_ok=True)

    def _path(self, name: str, part: str) -> Path:
        return self.folder / f"{name}.{part}.npy"

    def _partial(self, name: str, part: str) -> Path:
        """Where this process writes a part before renaming it into place."""
        return self.folder / f".{name}.{part}.npy.{os.getpid()}.partial"

    def _used_bytes(self) -> int:
        """Bytes held now, after removing entries past their age."""
        used, cutoff = 0, time.time() - self.max_age_s
        with contextlib.suppress(FileNotFoundError), os.scandir(self.folder) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    stat = entry.stat()
                    if stat.st_mtime < cutoff:
                        os.unlink(entry.path)
                        continue
                    used += stat.st_size
        return used
