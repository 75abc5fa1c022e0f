"""The NumPy backend's FFT and process settings (the fast CPU path of the solvers).

The solvers run on NumPy arrays or on torch tensors (:mod:`csmri.linop`,
:mod:`csmri.solvers`); this module is the NumPy fast path's seam: the
*uncentred* FFT of :class:`csmri.solvers.data.CartesianFast` and the process
settings below.

Why NumPy + ``scipy.fft`` + Numba on the CPU (measured on the 2-core AMD EPYC
development machine, 320 x 320 ``complex64``, see ``benchmarks/RESULTS_cs.md``):

* an *uncentred* orthonormal FFT pair with ``scipy.fft`` takes about 1.1 ms, the
  same pair with ``torch.fft`` (CPU, 2 threads) about 2.8 ms;
* the *centred* pair (``fft2c``/``ifft2c``, with two ``fftshift`` copies each)
  takes longer than the uncentred pair, so the solvers never shift: the data
  term is rewritten once in uncentred coordinates (see
  :mod:`csmri.solvers.data`), which is exact for odd and even sizes;
* everything between the FFTs (differences, moduli, shrinkage, norms, the
  wavelet filters) runs in fused Numba kernels, one pass over memory each
  (:mod:`csmri.regularizers.tv_kernels`, :mod:`csmri.regularizers.dwt`,
  :mod:`csmri.solvers.kernels`).  NumPy needed several passes with temporaries
  for the same work (an ADMM-TV iteration cost 5 FFT pairs, now about 2), and
  torch's CPU elementwise operators have the same problem.
* The FFT of one image runs on one thread, the FFT of a batch on up to two (one
  per slice, at most the CPU count; ``CSMRI_FFT_WORKERS`` overrides both): for a
  single image two threads were at best 10% faster, with far more variance (over
  four alternating rounds of 100 ADMM-TV iterations the median iteration took
  2.3-2.6 ms with one thread against 2.3-3.7 ms with two), but a batch splits
  cleanly over slices: a whole ``csmri solve`` of 8 slices of 320 x 320 (TV, 100
  iterations, batches of 4) took 4.3 s against 5.5 s (medians of 3 alternating
  rounds; wavelets unchanged at 7.7 s).
* Freed memory is kept for reuse (:func:`retain_freed_memory`, called by
  :func:`get_backend`): every iteration allocates a few image-sized arrays (FFT
  outputs, iterates), and with glibc's default thresholds these are mapped and
  unmapped again, so each one pays page faults on first touch.  On the
  development machine the median iteration (320 x 320, 100 iterations, three
  alternating rounds in one process) went from 4.3-5.3 to 2.5-3.6 ms (ADMM-TV),
  9.4-11.7 to 5.3 ms (FISTA-TV) and 4.6-5.5 to 3.4-3.8 ms (FISTA-wavelet) against
  glibc's static defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

import numpy as np
import scipy.fft

from csmri.linop.fft import fft_workers

_AXES = (-2, -1)
BATCH_FFT_WORKERS = 2
"""Most FFT threads for a batch of images (see the module docstring)."""


class Backend:
    """Interface of an array backend: orthonormal, *uncentred* 2-D FFTs on the last two axes."""

    name = "abstract"

    def fft2(self, x: np.ndarray) -> np.ndarray:
        """Orthonormal forward FFT over the last two axes (zero frequency at index 0)."""
        raise NotImplementedError

    def ifft2(self, k: np.ndarray) -> np.ndarray:
        """Orthonormal inverse FFT over the last two axes."""
        raise NotImplementedError

    def fft(self, x: np.ndarray, axis: int) -> np.ndarray:
        """Orthonormal forward 1-D FFT along ``axis`` (zero frequency at index 0)."""
        raise NotImplementedError

    def ifft(self, k: np.ndarray, axis: int) -> np.ndarray:
        """Orthonormal inverse 1-D FFT along ``axis``."""
        raise NotImplementedError


class NumpyBackend(Backend):
    """``scipy.fft`` on NumPy arrays; ``complex64`` stays ``complex64``.

    Parameters
    ----------
    workers : int, optional
        Threads for ``scipy.fft``; ``CSMRI_FFT_WORKERS`` when omitted, else one for
        a single image and up to two for a batch (see the module docstring).
    """

    name = "numpy"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = fft_workers() if workers is None else workers

    def workers_for(self, x: np.ndarray) -> int:
        """FFT threads for the stack ``x`` (see the class docstring)."""
        if self.workers is not None:
            return self.workers
        images = int(np.prod(x.shape[:-2], dtype=np.int64))
        return max(1, min(BATCH_FFT_WORKERS, images, os.cpu_count() or 1))

    def fft2(self, x: np.ndarray) -> np.ndarray:
        """Orthonormal forward FFT over the last two axes."""
        return scipy.fft.fft2(x, axes=_AXES, norm="ortho", workers=self.workers_for(x))

    def ifft2(self, k: np.ndarray) -> np.ndarray:
        """Orthonormal inverse FFT over the last two axes."""
        return scipy.fft.ifft2(k, axes=_AXES, norm="ortho", workers=self.workers_for(k))

    def fft(self, x: np.ndarray, axis: int) -> np.ndarray:
        """Orthonormal forward 1-D FFT along ``axis``."""
        return scipy.fft.fft(x, axis=axis, norm="ortho", workers=self.workers_for(x))

    def ifft(self, k: np.ndarray, axis: int) -> np.ndarray:
        """Orthonormal inverse 1-D FFT along ``axis``."""
        return scipy.fft.ifft(k, axis=axis, norm="ortho", workers=self.workers_for(k))


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_GLIBC_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


@functools.cache
def retain_freed_memory(mmap_mb: int = 64, trim_mb: int = 256) -> bool:
    """Ask glibc to serve arrays below ``mmap_mb`` from its heap and keep up to ``trim_mb`` free.

    Solver iterations allocate and free image-sized arrays; with these settings
    freed blocks are reused instead of being returned to the system and faulted
    in again (see the module docstring for the measured effect).  The cost is
    that the process keeps up to ``trim_mb`` of freed memory.  Done once per
    process; nothing happens off glibc or when the user set glibc's malloc
    variables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
    ``GLIBC_TUNABLES``) themselves.

    Parameters
    ----------
    mmap_mb, trim_mb : int
        ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` in MiB.

    Returns
    -------
    bool
        Whether the settings were applied.
    """
    if not sys.platform.startswith("linux") or any(v in os.environ for v in _GLIBC_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    applied = mallopt(_M_MMAP_THRESHOLD, mmap_mb << 20) == 1
    return mallopt(_M_TRIM_THRESHOLD, trim_mb << 20) == 1 and applied


BACKENDS: tuple[str, ...] = ("numpy",)


def get_backend(name: str = "numpy") -> Backend:
    """Return the backend called ``name``.

    Parameters
    ----------
    name : {"numpy"}
        Backend name.

    Returns
    -------
    Backend
        A backend instance.
    """
    from csmri.errors import UsageError

    if name != "numpy":
        raise UsageError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    retain_freed_memory()
    return NumpyBackend()
