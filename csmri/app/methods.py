"""Reconstruction methods behind one interface, so every caller treats them alike.

A method maps masked k-space ``(S, H, W)`` and a column mask to magnitude
images.  ``solve`` and ``compare`` only see :class:`ReconMethod`; the learned
U-Net implements the same protocol in ``learned.method``, keeping the import
direction ``cli -> learned -> csmri``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from csmri.defaults import DEFAULT_WAVELET
from csmri.mri.baseline import zero_filled

SOLVERS = ("fista", "ista", "admm")


@dataclass
class MethodResult:
    """Output of one method on a stack of slices.

    Attributes
    ----------
    images : ndarray of float32, shape (S, H, W)
        Magnitude reconstructions, in the input's units.
    seconds : float
        Wall time of the reconstruction itself (set-up excluded).
    iterations : list of int
        Iterations per slice (1 for one-shot methods).
    history : list
        Per-slice solver histories (empty for one-shot methods).
    """

    images: np.ndarray
    seconds: float
    iterations: list[int] = field(default_factory=list)
    history: list = field(default_factory=list)


def run_stack(
    method: ReconMethod,
    kspace: np.ndarray,
    mask: np.ndarray,
    chunk: int = 4,
    progress: Callable[[int], None] | None = None,
) -> MethodResult:
    """Run a method over a stack a few slices at a time (bounded memory, progress per chunk).

    Parameters
    ----------
    method : ReconMethod
        Any method.
    kspace : array-like, shape (S, H, W)
        Masked k-space; any array sliceable along its first axis (an ``h5py`` dataset).
    mask : ndarray, shape (W,)
        Sampled columns.
    chunk : int
        Slices per call of ``method.run``.
    progress : callable, optional
        Called with the number of slices finished by each chunk.

    Returns
    -------
    MethodResult
        The whole stack: images, total seconds, iterations and histories in slice order.
    """
    parts = []
    for first in range(0, kspace.shape[0], chunk):
        stop = min(first + chunk, kspace.shape[0])
        parts.append(method.run(kspace[first:stop], mask))
        if progress is not None:
            progress(stop - first)
    return MethodResult(
        np.concatenate([p.images for p in parts]).astype(np.float32),
        sum(p.seconds for p in parts),
        [n for p in parts for n in p.iterations],
        [h for p in parts for h in p.history],
    )


class ReconMethod(Protocol):
    """Anything that reconstructs magnitude images from masked k-space."""

    name: str
    lam: float | None

    def run(self, kspace: np.ndarray, mask: np.ndarray) -> MethodResult:
        """Reconstruct a stack ``(S, H, W)`` of masked k-space sampled on ``mask`` ``(W,)``."""
        ...


@dataclass
class ZeroFilled:
    """The linear baseline ``|F^H M y|``."""

    name: str = "zero-filled"
    lam: float | None = None

    def run(self, kspace: np.ndarray, mask: np.ndarray) -> MethodResult:
        """Zero-filled magnitude images."""
        start = time.perf_counter()
        images = np.abs(zero_filled(kspace, mask)).astype(np.float32)
        return MethodResult(images, time.perf_counter() - start, [1] * len(images))


@dataclass
class CompressedSensing:
    """A regularised least-squares reconstruction solved by :func:`csmri.reconstruct`.

    Parameters
    ----------
    reg : {"tv", "tv-aniso", "wavelet", "tv+wavelet", "tgv", "tv-reweighted", "tgv-reweighted"}
        Regulariser (``tv+wavelet``: ADMM only).
    solver : {"fista", "ista", "admm"}, optional
        Algorithm; the regulariser's default (ADMM for TV, FISTA for wavelets) when omitted.
    lam : float, optional
        Regularisation weight in normalised units (see :mod:`csmri.app.scaling`);
        :data:`csmri.defaults.DEFAULT_LAMBDA` of the regulariser when omitted.
    max_iter : int
        Maximum iterations per slice.
    tol : float
        Relative-change stopping tolerance (0 runs all iterations).
    wavelet : str
        PyWavelets name for ``reg="wavelet"``.
    device : {None, "auto", "cpu", "cuda"}, optional
        Where the solve runs (see :func:`csmri.reconstruct`); None: the NumPy backend.
    """

    reg: str = "tv"
    solver: str | None = None
    lam: float | None = None
    max_iter: int = 100
    tol: float = 0.0
    wavelet: str = DEFAULT_WAVELET
    device: str | None = None

    def __post_init__(self) -> None:
        from csmri.app.reconstruct import check_solver, resolve_defaults

        self.lam, self.solver, _ = resolve_defaults(self.reg, self.lam, self.solver, None)
        check_solver(self.reg, self.solver)

    @property
    def name(self) -> str:
        """Short label such as ``tv-admm``."""
        return f"{self.reg}-{self.solver}"

    def _solve(self, kspace: np.ndarray, mask: np.ndarray, callback=None):
        from csmri.app.reconstruct import reconstruct

        return reconstruct(
            kspace,
            mask,
            reg=self.reg,
            lam=self.lam,
            solver=self.solver,
            max_iter=self.max_iter,
            tol=self.tol,
            wavelet=self.wavelet,
            callback=callback,
            device=self.device,
        )

    def run(self, kspace: np.ndarray, mask: np.ndarray) -> MethodResult:
        """Solve each slice; return magnitudes in the input's units."""
        start = time.perf_counter()
        result = self._solve(kspace, mask)
        seconds = time.perf_counter() - start
        images = np.abs(result.images).astype(np.float32)
        return MethodResult(images, seconds, list(result.iterations), list(result.history))

    def trace(self, kspace: np.ndarray, mask: np.ndarray, target: np.ndarray) -> dict:
        """Objective and PSNR after every iteration of one slice, against solver time.

        Parameters
        ----------
        kspace : ndarray, shape (1, H, W)
            One slice of masked k-space.
        mask : ndarray, shape (W,)
            Sampled columns.
        target : ndarray, shape (h, w)
            Magnitude reference (the iterate is centre-cropped to it).

        Returns
        -------
        dict
            ``objective``, ``seconds`` (cumulative solver time, scoring excluded) and ``psnr``.
        """
        from csmri.metrics import center_crop, psnr

        scores: list[float] = []

        def score(
            iteration: int, slices: np.ndarray, objective: np.ndarray, images: np.ndarray
        ) -> None:
            scores.append(psnr(target, center_crop(np.abs(images[0]), target.shape)))

        result = self._solve(kspace, mask, callback=score)
        history = result.history[0]
        return {
            "objective": list(history.objective),
            "seconds": np.cumsum(history.time).tolist(),
            "psnr": scores,
        }
