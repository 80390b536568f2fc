"""Cut a video into ~2 s chunks, on keyframes where the source allows, from packet flags (no decoding)."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from pathlib import Path

import av.error

from agents.extract.matroska import segment_end
from agents.extract.opening import REUPLOAD, open_input, video_stream
from agents.extract.probe import MediaInfo, probe
from base.errors import CorruptInput

# A stream that ends this much earlier than its header promised was cut off.
TRUNCATION_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class ChunkSpec:
    """Frames [start, stop) are this chunk's output; [warmup_start, start) only settle temporal state."""

    index: int
    start: int
    stop: int
    warmup_start: int
    warmup_start_pts: int | None = None  # pts of frame warmup_start; None: the file has no timestamps
    seek_ts: int | None = None  # seek here (keyframe at/before warmup_start); None: decode from the beginning

    @property
    def frame_count(self) -> int:
        """Frames decoded for this chunk, warm-up included."""
        return self.stop - self.warmup_start


@dataclass(frozen=True)
class PacketScan:
    """Video frames in display order, from one pass over the packets."""

    count: int  # video frames (packets that carry one)
    pts: list[int] | None  # sorted presentation timestamps; None when the file has none
    keyframes: list[int]  # display indices of keyframes, ascending
    seek_ts: list[int] | None  # per keyframe in ``keyframes``: its pts, which a backward seek lands on


def plan_chunks(
    source: Path | str | MediaInfo,
    chunk_seconds: float = 2.0,
    warmup_frames: int = 8,
    *,
    scan: PacketScan | None = None,
) -> list[ChunkSpec]:
    """Chunks covering every frame exactly once; a still is one chunk of one frame. ``scan``: the source's
    packets, when the caller has already read them (scan_packets)."""
    info = source if isinstance(source, MediaInfo) else probe(source)
    if info.is_image:
        return [ChunkSpec(0, 0, 1, 0)]
    scan = scan or scan_packets(info)
    total = scan.count
    target = max(1, round(chunk_seconds * float(info.fps)))
    cuts = _cut_points(total, target, scan.keyframes)
    chunks = []
    for index, (start, stop) in enumerate(itertools.pairwise(cuts)):
        warmup_start = max(0, start - warmup_frames)
        first_pts = scan.pts[warmup_start] if scan.pts is not None else None
        seek_ts = None
        if scan.seek_ts is not None and warmup_start > 0:
            key = bisect.bisect_right(scan.keyframes, warmup_start) - 1
            seek_ts = scan.seek_ts[key] if key > 0 else None
        chunks.append(ChunkSpec(index, start, stop, warmup_start, first_pts, seek_ts))
    return chunks


def _cut_points(total: int, target: int, keyframes: list[int]) -> list[int]:
    """Frame indices where chunks start, plus ``total``: a keyframe near each target, else the target."""
    cuts = [0]
    while total - cuts[-1] > target + target // 2:
        start = cuts[-1]
        lo = bisect.bisect_left(keyframes, start + (target + 1) // 2)
        hi = bisect.bisect_right(keyframes, start + target + target // 2)
        near = keyframes[lo:hi]
        cuts.append(min(near, key=lambda k: abs(k - start - target)) if near else start + target)
    if total > 0:
        cuts.append(total)
    return cuts


def scan_packets(info: MediaInfo) -> PacketScan:
    """Read every packet (no decoding) for exact frame timestamps and keyframes; detect cut-off files."""
    _check_matroska_size(info)
    with open_input(info.path) as container:
        stream = video_stream(container, info.path)
        entries: list[tuple[int | None, int | None, bool]] = []  # (pts, dts, keyframe) in decode order
        stream_end = 0.0
        try:
            for packet in container.demux():
                if packet.size == 0 or packet.is_discard:
                    continue
                if packet.pts is not None and packet.time_base is not None:
                    end = (packet.pts + (packet.duration or 0)) * packet.time_base
                    stream_end = max(stream_end, float(end))
                if packet.stream_index == stream.index:
                    entries.append((packet.pts, packet.dts, packet.is_keyframe))
        except av.error.FFmpegError as exc:
            raise CorruptInput(
                f"{info.path}: unreadable after {len(entries)} video frames ({exc}); {REUPLOAD}"
            ) from exc
        declared = container.duration / av.time_base if container.duration else None
    _check_unique_timestamps(info, [pts for pts, _, _ in entries if pts is not None])
    _check_complete(info, len(entries), stream_end, declared)
    return _display_order(entries)


def _check_unique_timestamps(info: MediaInfo, stamps: list[int]) -> None:
    # Two frames at one instant have no order to be shown in; chunks find their frames by timestamp and
    # the encoder takes strictly increasing ones.
    repeated = len(stamps) - len(set(stamps))
    if repeated:
        raise CorruptInput(
            f"{info.path}: {repeated} video frames repeat the timestamp of another, so their order is "
            f"unknown; {REUPLOAD}"
        )


def _check_matroska_size(info: MediaInfo) -> None:
    # FFmpeg stops at the last whole frame of a cut-off Matroska file without an error, and its declared
    # duration is too coarse a check (up to TRUNCATION_TOLERANCE_S of frames could go missing unnoticed).
    declared = segment_end(info.path) if info.container.startswith("matroska") else None
    if declared is not None and declared > info.size_bytes:
        raise CorruptInput(
            f"{info.path} is cut off: it has {info.size_bytes} bytes, its header says {declared}; {REUPLOAD}"
        )


def _check_complete(info: MediaInfo, frames: int, stream_end_s: float, declared_s: float | None) -> None:
    if frames == 0:
        raise CorruptInput(f"{info.path} holds no video frames; {REUPLOAD}")
    short_by_frames = info.frame_count_exact and frames < info.frame_count
    short_in_time = declared_s is not None and stream_end_s < declared_s - TRUNCATION_TOLERANCE_S
    if short_by_frames or short_in_time:
        promised = f"{info.frame_count} frames" if info.frame_count_exact else "more"
        raise CorruptInput(
            f"{info.path} is cut off: its data ends after video frame {frames} ({stream_end_s:.2f} s) but "
            f"its header promises {promised} ({declared_s or info.duration_s:.2f} s); {REUPLOAD}"
        )


def _display_order(entries: list[tuple[int | None, int | None, bool]]) -> PacketScan:
    if any(pts is None for pts, _, _ in entries):
        # No timestamps (raw elementary stream): only decode order is known; chunks decode from the start.
        return PacketScan(len(entries), None, [i for i, (_, _, key) in enumerate(entries) if key], None)
    order = sorted(range(len(entries)), key=lambda i: (entries[i][0], i))
    pts = [entries[i][0] for i in order]
    keyframes, seek_ts = [], []
    for display_index, i in enumerate(order):
        packet_pts, _, key = entries[i]
        if key and packet_pts is not None:
            keyframes.append(display_index)
            # Whether the demuxer's index holds pts or dts (<= pts), a backward seek to the keyframe's pts
            # lands on it; decode_chunk checks the landing and falls back to the start if it overshot.
            seek_ts.append(packet_pts)
    return PacketScan(len(pts), [p for p in pts if p is not None], keyframes, seek_ts)
