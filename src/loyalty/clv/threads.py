"""Run the optimisers with single-threaded OpenBLAS.

scipy's L-BFGS-B calls BLAS on 4-element vectors. OpenBLAS wakes its worker threads for
them, and on a busy machine (two cores, several processes) each iteration then cost
5-20 ms instead of ~30 us: a 40-iteration fit of 48 customers took 0.7 s, 300x the
single-threaded time. :func:`single_threaded_blas` sets the thread count of every
OpenBLAS loaded in the process (numpy's and scipy's ``scipy_openblas`` builds, or a
system ``libopenblas``) to one for the duration of a fit and restores it afterwards,
the way ``threadpoolctl`` does (that package is not a dependency here). Where no
OpenBLAS is found (other BLAS, other OS) it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_API = (
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
)
_lock = threading.Lock()
_depth = 0
_saved: list[int] = []


@functools.cache
def _openblas_controls() -> tuple[tuple[Callable[[int], None], Callable[[], int]], ...]:
    """(set, get) thread-count functions of every OpenBLAS mapped into this process."""
    paths: set[str] = set()
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and "openblas" in os.path.basename(parts[5]).lower():
                    paths.add(parts[5])
    except OSError:
        return ()
    controls = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _API:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                controls.append((setter, getter))
                break
    return tuple(controls)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Context manager: OpenBLAS runs on one thread inside (re-entrant)."""
    global _depth, _saved
    controls = _openblas_controls()
    with _lock:
        if _depth == 0:
            _saved = [get() for _, get in controls]
            for set_threads, _ in controls:
                set_threads(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for (set_threads, _), n in zip(controls, _saved, strict=True):
                    set_threads(n)
