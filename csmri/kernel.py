"""How csmri compiles its Numba kernels: parallel, with a serial twin for forked children.

Every kernel runs its rows in parallel with Numba's OpenMP threading layer, the
fastest of Numba's layers on the development machine (an ADMM-TV iteration
took 2.0-3.0 ms with it, 3.7-5.1 ms with the ``workqueue`` layer and 2.9-4.2 ms
compiled serially; alternating processes, 320 x 320).  GNU OpenMP is not
fork-safe: a process forked after the parent ran a parallel kernel is
terminated by Numba as soon as it runs one itself.  ``multiprocessing`` forks by
default on Linux, so each kernel also has a serial twin, compiled from the same
source under its own cache name, and a call from a forked child runs the twin.
Results are identical either way (per-row sums are added in row order).

OpenMP's threads spin for a while after each parallel region by default, and on a
small machine they then take the cores that ``scipy.fft``'s worker threads need:
over 100 FISTA-wavelet iterations of 8 slices of 320 x 320 the FFTs took 0.95 s
with spinning threads and 0.56 s without.  So ``OMP_WAIT_POLICY`` defaults to
``PASSIVE`` here, before Numba loads its OpenMP runtime (the ``csmri`` command and
:mod:`learned` set the same default; a value set by the user is kept).
"""

from __future__ import annotations

import functools
import os
import types
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba as nb  # after the OpenMP setting above
import numpy as np

_pool_pid: int | None = None
"""The process whose calls run in parallel: the first one to call a kernel."""


class ParallelKernel:
    """A Numba kernel compiled with ``parallel=True`` and, for forked children, without.

    Parameters
    ----------
    function : callable
        Kernel source; its loops over rows use ``numba.prange``.
    fastmath : bool or set of str
        Numba's ``fastmath`` flags, the same for both variants.
    """

    def __init__(self, function: Callable, fastmath: bool | set[str] = False) -> None:
        self.parallel = nb.njit(cache=True, parallel=True, fastmath=fastmath)(function)
        twin = types.FunctionType(
            function.__code__,
            function.__globals__,
            function.__name__ + "_serial",
            function.__defaults__,
            function.__closure__,
        )
        # Numba names cache files after the qualified name: the twin must not share them.
        twin.__qualname__ = function.__qualname__ + "_serial"
        twin.__module__ = function.__module__
        self.serial = nb.njit(cache=True, fastmath=fastmath)(twin)
        functools.update_wrapper(self, function)

    def __call__(self, *args: Any) -> Any:
        """Run the parallel variant, or the serial twin in a process forked after it ran.

        Ctrl-C while compiled code runs reaches Python as a ``SystemError`` ("returned a
        result with an exception set") whose chain of causes holds the
        ``KeyboardInterrupt``; the interrupt itself is raised, so callers see what the
        user did.
        """
        global _pool_pid
        pid = os.getpid()
        if _pool_pid is None:
            _pool_pid = pid
        try:
            return (self.parallel if pid == _pool_pid else self.serial)(*args)
        except SystemError as error:
            cause: BaseException | None = error.__cause__
            for _ in range(8):  # Numba may wrap it twice: walk a short chain of causes
                if cause is None or isinstance(cause, KeyboardInterrupt):
                    break
                cause = cause.__cause__
            if isinstance(cause, KeyboardInterrupt):
                raise KeyboardInterrupt from None
            raise


def parallel_kernel(fastmath: bool | set[str] = False) -> Callable[[Callable], ParallelKernel]:
    """Decorator: compile a row-parallel kernel and its serial twin (see :class:`ParallelKernel`).

    Parameters
    ----------
    fastmath : bool or set of str
        Numba ``fastmath`` flags.

    Returns
    -------
    callable
        The decorator.
    """
    return functools.partial(ParallelKernel, fastmath=fastmath)


def per_image_thresholds(threshold: float | np.ndarray, count: int, dtype: np.dtype) -> np.ndarray:
    """A threshold as a contiguous array of one value per image, as the kernels index it.

    ``threshold`` is one value or one per image (in any shape that ravels to ``count``).
    """
    values = np.asarray(threshold, dtype=dtype).ravel()
    if values.size not in (1, count):
        raise ValueError(f"{values.size} thresholds for {count} images")
    return np.ascontiguousarray(np.broadcast_to(values, (count,)))
