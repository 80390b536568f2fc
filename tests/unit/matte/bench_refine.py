"""Time `refine` on the known-alpha clip: python -m tests.unit.matte.bench_refine [W H [threads]]."""

from __future__ import annotations

import sys
import time

import cv2

from agents.matte import refine
from tests.unit.matte.known_alpha import known_clip


def main(argv: list[str]) -> None:
    """Best of five runs over 24 frames, in ms per frame; OpenCV's thread count as given, else its own."""
    width, height = (int(argv[0]), int(argv[1])) if len(argv) >= 2 else (1280, 720)
    if len(argv) >= 3:
        cv2.setNumThreads(int(argv[2]))
    clip = known_clip(size=(width, height), frames=24)
    refine(clip.frames[:2], clip.probs[:2], None)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        refine(clip.frames, clip.probs, None)
        best = min(best, time.perf_counter() - start)
    sys.stdout.write(
        f"refine {width}x{height}, cv2 threads {cv2.getNumThreads()}: {best / 24 * 1e3:.2f} ms/frame\n"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
