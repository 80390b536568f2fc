"""Keep freed memory in the process for reuse: a long-running worker's big arrays then cost no page faults.

Each chunk a stage worker handles allocates a few hundred MB of frames, alphas and results. glibc hands
blocks this large to mmap and returns them to the kernel on free, so every chunk faults its memory in
afresh; on this project's 2-core VMs that costs ~1.5 ms per 720p RGB frame touched (~2 µs per 4 KiB
page), as much as decoding the frame. Telling malloc never to use mmap and never to trim makes the
second chunk reuse the first one's pages (~0.1 ms a frame). The price: a worker keeps its peak heap.

`backdrop process` sets it too: its matte thread faulted ~450 pages a 720p frame (working-scale arrays of
3 MB, made and freed per frame); a 20 s 720p clip took 170k–570k page faults, ~100k–115k with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

# mallopt parameters from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
_LARGEST = 2**31 - 1


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to serve big blocks from the heap and keep them; False where that is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt: nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = all(
        mallopt(option, value) == 1
        for option, value in ((M_TRIM_THRESHOLD, _LARGEST), (M_MMAP_THRESHOLD, _LARGEST), (M_MMAP_MAX, 0))
    )
    if not done:
        log.warning("malloc did not take the reuse settings; big arrays will fault their pages per chunk")
    return done
