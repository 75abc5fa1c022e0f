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

from csmri.acquisition import Trajectory
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


def gridding(kspace: np.ndarray, sampling: Trajectory, maps: np.ndarray | None) -> np.ndarray:
    """Non-Cartesian zero-filled magnitudes: the density-compensated adjoint (gridding).

    Coil-combined by the maps when given, else the RSS of the per-coil gridding images of
    multi-coil ``(S, C, *samples)`` k-space, or single-coil ``(S, *samples)``.
    """
    from csmri.app.noncartesian import gridding_reconstruction

    args = (sampling.coords, sampling.matrix)
    kwargs = {"weights": sampling.density}
    kspace = np.asarray(kspace)
    if maps is not None:
        combined = gridding_reconstruction(kspace, *args, maps=maps, **kwargs)
        return np.abs(combined).astype(np.float32)
    if kspace.ndim == 1 + len(sampling.samples):
        return np.abs(gridding_reconstruction(kspace, *args, **kwargs)).astype(np.float32)
    s, c = kspace.shape[:2]
    coils = gridding_reconstruction(kspace.reshape(s * c, *sampling.samples), *args, **kwargs)
    coils = coils.reshape(s, c, *sampling.matrix)
    return np.sqrt(np.sum(np.abs(coils) ** 2, axis=1)).astype(np.float32)


def partial_fourier(mask: np.ndarray) -> tuple[int, float] | None:
    """``(axis, fraction)`` of a partial-Fourier Cartesian mask, or None (symmetric)."""
    from csmri.mri.partial_fourier import detect_partial_fourier

    mask = np.asarray(mask)
    return detect_partial_fourier(mask if mask.ndim == 2 else mask[np.newaxis])


def _pocs(kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None) -> np.ndarray:
    """POCS-completed baseline of partial-Fourier data (RSS, or SENSE-combined with maps)."""
    from csmri.mri.partial_fourier import partial_fourier_baseline

    axis, fraction = partial_fourier(mask)
    kspace = np.asarray(kspace)
    coils = kspace if kspace.ndim == 4 else kspace[:, np.newaxis]
    full = np.broadcast_to(np.asarray(mask) != 0, coils.shape[-2:])
    return partial_fourier_baseline(coils * full, fraction, axis, "pocs", maps, mask=full)


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
        if isinstance(mask, Trajectory):
            images = gridding(kspace, mask, None)
        elif partial_fourier(mask) is not None:  # the baseline a scanner shows: POCS
            images = np.abs(_pocs(kspace, mask, None)).astype(np.float32)
        elif np.ndim(kspace) == 4:
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
        if maps is None:
            raise UsageError("sense-adjoint needs multi-coil k-space and coil maps")
        start = time.perf_counter()
        if isinstance(mask, Trajectory):
            images = gridding(kspace, mask, maps)
        elif partial_fourier(mask) is not None:
            images = np.abs(_pocs(kspace, mask, maps))
        else:
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

        if isinstance(mask, Trajectory):  # radial, spiral: the NUFFT through the same solvers
            from csmri.app.noncartesian import reconstruct_noncartesian

            return reconstruct_noncartesian(
                kspace, mask.coords, mask.matrix, maps=maps, weights=mask.density,
                reg=self.reg, lam=self.lam, solver=self.solver, max_iter=self.max_iter,
                tol=self.tol, wavelet=self.wavelet, device=self.device,
            )

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
        if not scores:  # the non-Cartesian solve takes no callback: objective and time only
            scores = [float("nan")] * len(history.objective)
        return {
            "objective": list(history.objective),
            "seconds": np.cumsum(history.time).tolist(),
            "psnr": scores,
        }
