"""Milliseconds per frame of a segmenter: ``python -m agents.segment.bench --backend torch --batch 8``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from agents.segment.backends import BackendName, load_segmenter
from agents.segment.preprocess import to_network_input


def main(argv: list[str] | None = None) -> int:
    """Time the network alone and ``predict`` (resize + normalise + network) on random 720p frames."""
    parser = argparse.ArgumentParser(prog="python -m agents.segment.bench", description=main.__doc__)
    parser.add_argument("--model", default="selfie")
    parser.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "backdrop")
    args = parser.parse_args(argv)
    backend: BackendName = args.backend
    segmenter = load_segmenter(
        args.model,
        backend,
        args.device,
        cache_dir=args.cache_dir,
        batch_size=args.batch,
        threads=args.threads,
    )
    frames = np.random.default_rng(0).integers(0, 256, (args.batch, 720, 1280, 3), np.uint8)  # [B, H, W, 3]
    batch = to_network_input(frames, segmenter.spec)
    segmenter.runner.run(batch)  # warm-up: lazy allocations, kernel selection
    start = time.perf_counter()
    for _ in range(args.repeats):
        segmenter.runner.run(batch)
    network_ms = (time.perf_counter() - start) * 1000 / (args.repeats * args.batch)
    start = time.perf_counter()
    for _ in range(args.repeats):
        segmenter.predict(frames)
    predict_ms = (time.perf_counter() - start) * 1000 / (args.repeats * args.batch)
    height, width = segmenter.spec.input_size
    sys.stdout.write(
        f"{args.model} {height}x{width} {segmenter.backend} batch {args.batch}: "
        f"network {network_ms:.2f} ms/frame, predict from 720p {predict_ms:.2f} ms/frame\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
