"""The array seam: the few numerical primitives the CS solvers need from a backend.

Solvers and regularisers call :func:`get_backend` for FFTs; everything else is
plain NumPy array arithmetic on ``complex64`` arrays.  A torch/GPU backend can be
added later by implementing :class:`Backend` with torch tensors (the solvers use
only ``+ - * /``, ``abs``, ``sqrt``, ``sum`` over the last two axes, ``roll`` and
slicing, which torch shares with NumPy).

Why NumPy + ``scipy.fft`` + Numba today (measured on the 2-core AMD EPYC
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
* The FFT runs on one thread by default (``CSMRI_FFT_WORKERS`` overrides): with
  two threads the pair is at best 10% faster, its time varies far more, and its
  threads compete with the Numba kernels' threads for the two cores; over four
  alternating rounds of 100 ADMM-TV iterations the median iteration took
  2.3-2.6 ms with a one-thread FFT against 2.3-3.7 ms with two.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from csmri.fft import fft_workers

_AXES = (-2, -1)


class Backend:
    """Interface of an array backend: orthonormal, *uncentred* 2-D FFTs on the last two axes."""

    name = "abstract"

    def fft2(self, x: np.ndarray) -> np.ndarray:
        """Orthonormal forward FFT over the last two axes (zero frequency at index 0)."""
        raise NotImplementedError

    def ifft2(self, k: np.ndarray) -> np.ndarray:
        """Orthonormal inverse FFT over the last two axes."""
        raise NotImplementedError


class NumpyBackend(Backend):
    """``scipy.fft`` on NumPy arrays; ``complex64`` stays ``complex64``.

    Parameters
    ----------
    workers : int, optional
        Threads for ``scipy.fft``; ``CSMRI_FFT_WORKERS`` or 1 when omitted (see
        the module docstring).
    """

    name = "numpy"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = fft_workers() if workers is None else workers

    def fft2(self, x: np.ndarray) -> np.ndarray:
        """Orthonormal forward FFT over the last two axes."""
        return scipy.fft.fft2(x, axes=_AXES, norm="ortho", workers=self.workers)

    def ifft2(self, k: np.ndarray) -> np.ndarray:
        """Orthonormal inverse FFT over the last two axes."""
        return scipy.fft.ifft2(k, axes=_AXES, norm="ortho", workers=self.workers)


def squared_norms(a: np.ndarray, slice_axis: int = 0) -> np.ndarray:
    """``||a_s||^2`` of each slice ``s`` (float64), one BLAS dot product per slice.

    ``vdot`` reads the data once, where ``real**2 + imag**2`` would make four
    temporary arrays; this matters because norms are taken every iteration.
    """
    a = np.moveaxis(a, slice_axis, 0) if slice_axis else a
    return np.array([np.vdot(s, s).real for s in a], dtype=np.float64)


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
    return NumpyBackend()
