"""How the stage cores compile their per-pixel loops: numba, cached on disk, without the GIL.

A loop compiles once per machine (about a second each) into numba's cache: beside its source file where
that is writable, else in ``NUMBA_CACHE_DIR`` (the image sets one). Without the GIL the loops run beside
the pipeline's other threads. Bounds are not checked: each caller checks its arrays' shapes first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

_compile = numba.njit(cache=True, nogil=True, boundscheck=False)

F = TypeVar("F", bound=Callable[..., Any])


def jit(function: F) -> F:
    """``function`` compiled; to type checkers, the function as written."""
    return cast(F, _compile(function))
