"""How the stage cores compile their per-pixel loops: numba, cached on disk, without the GIL.

A loop compiles once per machine (about a second each) into numba's cache: in ``NUMBA_CACHE_DIR`` if set
(the image sets one), else beside its source file where that is writable, else in the user's cache
folder. Where none of those can be written, each process compiles its loops again when it first runs them.
Without the GIL the loops run beside the pipeline's other threads. Bounds are not checked: each caller
checks its arrays' shapes first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def jit(function: F) -> F:
    """``function`` compiled; to type checkers, the function as written."""
    try:
        compiled = numba.njit(cache=True, nogil=True, boundscheck=False)(function)
    except RuntimeError as exc:  # numba found no folder it may write its cache to
        log.warning("%s; set NUMBA_CACHE_DIR to a writable folder to compile once, not per process", exc)
        compiled = numba.njit(nogil=True, boundscheck=False)(function)
    return cast(F, compiled)
