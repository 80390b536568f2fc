"""Every case of the bad-input corpus (tests/corpus.py) through `process`: a stable input code, in bounded
time and memory, never another exception, never a hang.

The rule for each case: the job fails with a ``BackdropError`` whose code is one the case names; or, for
a case marked ``may_succeed`` (fuzzed bytes that still decode, damage a decoder conceals, a header lie
FFmpeg sees through), it succeeds with a valid output: one that probes and holds every frame the source's
packets hold (as the job reports, and as many as the case says when it says). A case that names no code
must succeed. The time and memory bounds apply to every case.

The segmenter is a stand-in (a constant probability): what is tested is input handling, which happens
before and around the model, and the stand-in keeps the corpus to a few seconds.
"""

from __future__ import annotations

import re
import resource
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from agents.extract import plan_chunks, probe
from agents.runner import ProcessReport, process
from base.errors import BackdropError
from tests import clips
from tests.corpus import CASES, BadInput, bad_inputs

# What the user is told to do, in one of the forms our messages use.
REMEDY = re.compile(
    r"re-export|re-upload|upload the file again|re-encode|convert (it|the input)|downscale|cut the input|"
    r"raise the limit|give (a|the) |check the path"
)
CASE_SECONDS = 20.0  # the longest any case may take; the slowest measured takes ~1.5 s on 2 cores
# Peak memory may not grow by more than this during a case: a bomb decoded anyway would add hundreds of MB.
CASE_GROWTH_MB = 150


class FlatSegmenter:
    backend = "flat"

    def predict(self, frames: np.ndarray) -> np.ndarray:
        return np.full((len(frames), 32, 32), 0.5, np.float32)  # [T, h, w]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BadInput]:
    cases = bad_inputs(tmp_path_factory.mktemp("corpus"))
    # Warm up once on a good file, so the first case's memory growth is its own, not the runner's start.
    warm = tmp_path_factory.mktemp("warm")
    good = clips.make_clip(warm / "good.mp4", width=160, height=120, frames=50, audio="aac").path
    process(good, warm / "out.mp4", FlatSegmenter)
    return {case.name: case for case in cases}


def test_the_corpus_is_large_and_distinct() -> None:
    failing = [case for case in CASES if case.codes and not case.may_succeed]
    assert len(failing) >= 50
    assert len({case.name for case in CASES}) == len(CASES)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _run_bounded(case: BadInput, output: Path) -> tuple[ProcessReport | BaseException, float]:
    """Run the job in a thread, so that a hang fails this test instead of stalling the session."""
    outcome: list[ProcessReport | BaseException] = []

    def job() -> None:
        try:
            outcome.append(process(case.path, output, FlatSegmenter))
        except BaseException as exc:  # handed to the test, which judges it
            outcome.append(exc)

    started = time.perf_counter()
    worker = threading.Thread(target=job, name=f"case-{case.name}", daemon=True)
    worker.start()
    worker.join(CASE_SECONDS)
    elapsed = time.perf_counter() - started
    if worker.is_alive():
        pytest.fail(f"{case.name}: still running after {CASE_SECONDS:.0f} s (a hang)")
    return outcome[0], elapsed


@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_bad_input(corpus: dict[str, BadInput], tmp_path: Path, name: str) -> None:
    case = corpus[name]
    output = tmp_path / case.output_name
    before = _peak_rss_mb()
    result, elapsed = _run_bounded(case, output)
    grown = _peak_rss_mb() - before
    assert elapsed < CASE_SECONDS
    assert grown < CASE_GROWTH_MB, f"{name}: peak memory grew by {grown:.0f} MB"
    if isinstance(result, BaseException):
        if not isinstance(result, BackdropError):
            raise AssertionError(f"{name} ({case.why}) raised {type(result).__name__}") from result
        assert result.code in case.codes, f"{name} ({case.why}): {result.code}: {result.message}"
        # README: "a sentence that says what to do".
        assert REMEDY.search(result.message), f"{name}: no remedy in {result.message!r}"
        assert not output.exists(), "a failed job leaves no partial output"
        return
    assert case.may_succeed, f"{name} ({case.why}) was processed without an error"
    held = plan_chunks(probe(case.path))[-1].stop  # what the source's packets hold, counted exactly
    assert probe(output).frame_count == result.frames == held > 0, "no frame is lost between demux and encode"
    if case.frames is not None:
        assert result.frames == case.frames
