"""Reconstruction methods behind one interface, so every caller treats them alike.

A method maps masked k-space and its mask, with coil maps for multi-coil data, to
magnitude images: single-coil ``(S, H, W)`` k-space with a ``(W,)`` column or ``(H, W)``
mask, or multi-coil ``(S, C, H, W)`` k-space with an ``(H, W)`` mask and maps
``(S, C, H, W)`` (:meth:`csmri.acquisition.Acquisition.solver_inputs` gives these).  The
same method runs on both: a single-coil file is the one-coil case.  ``solve`` and
``compare`` only see :class:`ReconMethod`; the learned networks implement the same
protocol in ``learned.method``, keeping the import direction ``cli -> learned -> csmri``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from csmri.defaults import DEFAULT_WAVELET
from csmri.errors import UsageError
from csmri.mri.baseline import rss_zero_filled, sense_adjoint, zero_filled

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


def run_method(
    method: ReconMethod, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None = None
) -> MethodResult:
    """``method.run``, passing ``maps`` only when there are some.

    A method written for single-coil data, ``run(kspace, mask)``, keeps working.
    """
    if maps is None:
        return method.run(kspace, mask)
    return method.run(kspace, mask, maps)


def run_stack(
    method: ReconMethod,
    kspace: np.ndarray,
    mask: np.ndarray,
    chunk: int = 4,
    progress: Callable[[int], None] | None = None,
    maps: np.ndarray | None = None,
) -> MethodResult:
    """Run a method over a stack a few slices at a time (bounded memory, progress per chunk).

    Parameters
    ----------
    method : ReconMethod
        Any method.
    kspace : array-like, shape (S, H, W)
        Masked k-space; any array sliceable along its first axis (an ``h5py`` dataset).
    mask : ndarray, shape (W,) or (H, W)
        Sampled columns or locations.
    chunk : int
        Slices per call of ``method.run``.
    progress : callable, optional
        Called with the number of slices finished by each chunk.
    maps : ndarray, shape (S, C, H, W), optional
        Coil maps of multi-coil k-space ``(S, C, H, W)``.

    Returns
    -------
    MethodResult
        The whole stack: images, total seconds, iterations and histories in slice order.
    """
    parts = []
    for first in range(0, kspace.shape[0], chunk):
        stop = min(first + chunk, kspace.shape[0])
        part_maps = None if maps is None else maps[first:stop]
        parts.append(run_method(method, kspace[first:stop], mask, part_maps))
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

    def run(
        self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None = None
    ) -> MethodResult:
        """Reconstruct a stack of masked k-space (see the module docstring for shapes)."""
        ...


@dataclass
class ZeroFilled:
    """The linear baseline ``|F^H M y|``; for multi-coil data the RSS of the coil images."""

    name: str = "zero-filled"
    lam: float | None = None

    def run(
        self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None = None
    ) -> MethodResult:
        """Zero-filled magnitude images (fastMRI's RSS baseline for coils)."""
        start = time.perf_counter()
        if np.ndim(kspace) == 4:
            images = rss_zero_filled(np.asarray(kspace) * (np.asarray(mask) != 0))
        else:
            images = np.abs(zero_filled(kspace, mask)).astype(np.float32)
        return MethodResult(images, time.perf_counter() - start, [1] * len(images))


@dataclass
class SenseAdjoint:
    """The coil-combined zero-filled image ``|S^H F^H M y|`` (multi-coil data only)."""

    name: str = "sense-adjoint"
    lam: float | None = None

    def run(
        self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None = None
    ) -> MethodResult:
        """SENSE-adjoint magnitude images."""
        if maps is None or np.ndim(kspace) != 4:
            raise UsageError("sense-adjoint needs multi-coil k-space and coil maps")
        start = time.perf_counter()
        images = np.abs(sense_adjoint(np.asarray(kspace) * (np.asarray(mask) != 0), maps))
        return MethodResult(images.astype(np.float32), time.perf_counter() - start,
                            [1] * len(images))


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

    def _solve(self, kspace: np.ndarray, mask: np.ndarray, maps=None, callback=None):
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
            maps=maps,
        )

    def run(
        self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None = None
    ) -> MethodResult:
        """Solve each slice (SENSE with ``maps``); return magnitudes in the input's units."""
        start = time.perf_counter()
        result = self._solve(kspace, mask, maps)
        seconds = time.perf_counter() - start
        images = np.abs(result.images).astype(np.float32)
        return MethodResult(images, seconds, list(result.iterations), list(result.history))

    def trace(
        self,
        kspace: np.ndarray,
        mask: np.ndarray,
        target: np.ndarray,
        maps: np.ndarray | None = None,
    ) -> dict:
        """Objective and PSNR after every iteration of one slice, against solver time.

        Parameters
        ----------
        kspace : ndarray, shape (1, H, W) or (1, C, H, W)
            One slice of masked k-space.
        mask : ndarray, shape (W,) or (H, W)
            Sampled columns or locations.
        target : ndarray, shape (h, w)
            Magnitude reference (the iterate is centre-cropped to it).
        maps : ndarray, optional
            Coil maps of multi-coil k-space ``(1, C, H, W)``.

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

        result = self._solve(kspace, mask, maps, callback=score)
        history = result.history[0]
        return {
            "objective": list(history.objective),
            "seconds": np.cumsum(history.time).tolist(),
            "psnr": scores,
        }
