"""The compressed-sensing entry point: :func:`reconstruct` and :func:`reconstruct_iter`.

Each slice solves ``x* = argmin_x 1/2 ||A x - y||^2 + lam R(x)`` with ``A`` the
single-coil :class:`csmri.linop.Cartesian` operator ``M F``, or the multi-coil
:class:`csmri.linop.Sense` operator ``M F S`` when coil maps are given, after
dividing its k-space by an automatic scale (:mod:`csmri.app.scaling`); the result is
multiplied back, so images are in the input's units and ``lam`` is in normalised
units.  Slices are solved in chunks (vectorised: the FFTs batch over the chunk),
which bounds memory for long stacks; :func:`reconstruct_iter` yields each slice
as it is finished.  The solve runs on NumPy (fused Numba kernels) or on torch
tensors on a CPU or a GPU (``device``; by default the device follows the data).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from csmri.app.scaling import estimate_scales, robust_scale
from csmri.arrays import is_torch
from csmri.defaults import (
    ADMM_ONLY,
    DEFAULT_CHUNK,
    DEFAULT_LAMBDA,
    DEFAULT_SOLVER,
    DEFAULT_TV_ITER,
    DEFAULT_WAVELET,
    REGULARIZER_SUMS,
    REGULARIZERS,
    REWEIGHTED_TGV,
    TGVS,
)
from csmri.device import resolve_device, to_device
from csmri.errors import InputError, UsageError
from csmri.linop import Cartesian, Sense
from csmri.regularizers import check_wavelet, make_terms
from csmri.regularizers.reweighted import REWEIGHTS
from csmri.solvers import (
    SOLVERS,
    CartesianFast,
    History,
    admm,
    least_squares,
    proximal_gradient,
)
from csmri.solvers.preconditioner import PreconditionedSense
from csmri.solvers.tgv import tgv_admm
from csmri.solvers.tgv_general import tgv_general

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_LAMBDA",
    "DEFAULT_SOLVER",
    "Reconstruction",
    "SliceResult",
    "check_solver",
    "reconstruct",
    "reconstruct_iter",
    "resolve_defaults",
]


def resolve_defaults(
    reg: str, lam: float | None, solver: str | None, cycle_spin: bool | None
) -> tuple[float, str, bool]:
    """Fill in the regulariser's defaults: lambda, solver and cycle spinning.

    Parameters
    ----------
    reg : str
        Regulariser name.
    lam, solver, cycle_spin : optional
        The caller's choices; None takes :data:`DEFAULT_LAMBDA`, :data:`DEFAULT_SOLVER`
        and cycle spinning (every solver).

    Returns
    -------
    tuple
        ``(lam, solver, cycle_spin)``.
    """
    lam = DEFAULT_LAMBDA.get(reg, 0.0) if lam is None else lam  # unknown names fail later
    solver = DEFAULT_SOLVER.get(reg, "fista") if solver is None else solver
    cycle_spin = True if cycle_spin is None else bool(cycle_spin)
    return lam, solver, cycle_spin


def check_solver(reg: str, solver: str) -> None:
    """Refuse a solver that cannot handle ``reg`` (sums of terms and TGV need ADMM).

    Raises
    ------
    UsageError
        For a regulariser of :data:`csmri.defaults.ADMM_ONLY` with FISTA/ISTA.
    """
    if reg in ADMM_ONLY and solver != "admm":
        raise UsageError(f"{reg} has no single prox, so it is solved by ADMM only: "
                         "use solver 'admm'")


@dataclass
class Reconstruction:
    """Reconstructed slices and how the solver got there.

    Attributes
    ----------
    images : ndarray of complex64, shape (S, H, W)
        Complex images in the input's units (a 2-D input gives ``S = 1``).
    history : list of History
        Per slice: objective, relative change, ADMM residuals, time per iteration.
    iterations : list of int
        Iterations run per slice.
    scale : ndarray of float64, shape (S,)
        The data scale each slice was divided by.
    params : dict
        The options used (reg, lam, solver, ...).
    """

    images: np.ndarray
    history: list[History]
    iterations: list[int]
    scale: np.ndarray
    params: dict = field(default_factory=dict)


@dataclass
class SliceResult:
    """One finished slice from :func:`reconstruct_iter`."""

    index: int
    image: np.ndarray
    history: History
    scale: float


def _check_options(
    reg: str,
    lam: float,
    solver: str,
    max_iter: int,
    tol: float,
    wavelet: str,
    levels: int | None,
    cycle_spin: bool,
    chunk: int | None,
) -> None:
    if reg not in REGULARIZERS:
        raise UsageError(f"unknown regulariser {reg!r}; choose one of {', '.join(REGULARIZERS)}")
    if solver not in SOLVERS:
        raise UsageError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    check_solver(reg, solver)
    if (
        isinstance(lam, bool)
        or not isinstance(lam, numbers.Real)
        or not math.isfinite(lam)
        or lam < 0
    ):
        raise UsageError(f"lambda must be a finite number >= 0, got {lam!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter <= 0:
        raise UsageError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not isinstance(tol, numbers.Real) or not math.isfinite(tol) or tol < 0:
        raise UsageError(f"tol must be a finite number >= 0, got {tol!r}")
    if "wavelet" in REGULARIZER_SUMS.get(reg, (reg,)):
        check_wavelet(wavelet)
        if levels is not None and (
            isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 1
        ):
            raise UsageError(f"levels must be a positive integer or None, got {levels!r}")
    if chunk is not None and (
        isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1
    ):
        raise UsageError(f"chunk must be a positive integer, got {chunk!r}")


def _check_arrays(kspace: Any, mask: np.ndarray, maps: Any) -> tuple[Any, np.ndarray, Any]:
    if not hasattr(kspace, "shape"):  # lists; arrays, memmaps and h5py datasets pass as they are
        kspace = np.asarray(kspace)
    coil_axes = 0 if maps is None else 1
    if len(kspace.shape) - coil_axes not in (2, 3):
        expected = "(H, W) or (S, H, W)" if maps is None else "(C, H, W) or (S, C, H, W)"
        raise InputError(f"k-space must have shape {expected}, got {tuple(kspace.shape)}")
    shape = tuple(kspace.shape)
    h, w = shape[-2:]
    if h < 2 or w < 2:
        raise InputError(f"k-space slices must be at least 2x2, got {h}x{w}")
    if maps is not None:
        if len(maps.shape) not in (3, 4) or tuple(maps.shape[-3:]) != shape[-3:]:
            raise InputError(
                f"coil maps of shape {tuple(maps.shape)} do not match k-space {shape}: "
                "use (C, H, W) or (S, C, H, W)"
            )
        if len(maps.shape) == 4 and (len(shape) != 4 or maps.shape[0] != shape[0]):
            raise InputError(f"{maps.shape[0]} slices of coil maps for k-space {shape}")
    mask = np.asarray(mask.detach().cpu() if is_torch(mask) else mask)
    if mask.shape not in ((w,), (h, w)):
        raise InputError(
            f"mask shape {mask.shape} does not match k-space {h}x{w}: use (W,) or (H, W)"
        )
    if not np.issubdtype(mask.dtype, np.number) and mask.dtype != bool:
        raise InputError(f"mask must be boolean or numeric, got {mask.dtype}")
    if not np.any(mask):
        raise InputError("mask samples nothing")
    return kspace, mask != 0, maps


def data_scales(
    kspace: np.ndarray, mask: np.ndarray, maps: Any = None, scale: float | None = None
) -> np.ndarray:
    """Per-slice data scales: BART's rule on ``|A^H y|`` (see :mod:`csmri.app.scaling`).

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W) or, with ``maps``, (S, C, H, W)
        Masked, centred k-space.
    mask : ndarray
        Sampling mask.
    maps : array, optional
        Coil maps: ``A`` is then the SENSE operator (``A^H y`` in complex128).
    scale : float, optional
        A fixed scale for every slice instead.

    Returns
    -------
    ndarray of float64, shape (S,)
        One scale per slice.
    """
    if scale is not None:
        return np.full(kspace.shape[0], float(scale), dtype=np.float64)
    if maps is None:
        return estimate_scales(kspace, mask)
    maps = np.asarray(maps.detach().cpu() if is_torch(maps) else maps, dtype=np.complex128)
    images = np.abs(Sense(maps, mask).adjoint(kspace.astype(np.complex128)))
    return np.array([robust_scale(image) for image in images])


def _solve_chunk(
    kspace: Any,
    mask: np.ndarray,
    indices: np.ndarray,
    *,
    maps: Any,
    device: str | None,
    reg: str,
    lam: float,
    solver: str,
    max_iter: int,
    tol: float,
    wavelet: str,
    levels: int | None,
    cycle_spin: bool,
    seed: int,
    callback: Callable | None,
    scale: float | None,
    rho: float | None,
    tv_iter: int,
) -> tuple[Any, list[History], np.ndarray]:
    tensor = is_torch(kspace)
    host = np.asarray(kspace.detach().cpu() if tensor else kspace)
    if not np.issubdtype(host.dtype, np.number):
        raise InputError(f"k-space must be numeric, got {host.dtype}")
    if not np.all(np.isfinite(host)):
        raise InputError("k-space contains NaN or infinite values")
    scales = data_scales(host, mask, maps, scale)
    shape = (-1,) + (1,) * (host.ndim - 1)
    y = (host.astype(np.complex128) / scales.reshape(shape)).astype(np.complex64)
    op = Cartesian(mask, y.shape[-2:]) if maps is None else Sense(to_device(maps, device), mask)
    if reg in TGVS and maps is not None:  # TGV's CG needs 1.7x fewer A^H A with it (measured)
        data = PreconditionedSense(op, to_device(y, device))
    else:
        data = least_squares(op, to_device(y, device), needs_solve=solver == "admm" or reg in TGVS)

    def chunk_callback(it: int, active: np.ndarray, objective: np.ndarray, images: Any) -> None:
        if callback is not None:
            factors = to_device(scales[active].astype(np.float32)[:, None, None], device)
            callback(it, indices[active], objective, images * factors)

    kwargs = {"max_iter": max_iter, "tol": tol, "callback": chunk_callback}
    if reg in TGVS:
        # The fused single-coil solver where it applies; the general one (CG) elsewhere.
        tgv = tgv_admm if isinstance(data, CartesianFast) else tgv_general
        reweights = REWEIGHTS if reg == REWEIGHTED_TGV else 0
        images, histories = tgv(data, float(lam), rho=rho, reweights=reweights, **kwargs)
    else:
        terms = make_terms(
            reg,
            y.shape[-2:],
            lam,
            wavelet=wavelet,
            levels=levels,
            cycle_spin=cycle_spin,
            slice_seeds=[[int(seed), int(i)] for i in indices],
            tv_iter=tv_iter,
        )
        if solver == "admm":
            images, histories = admm(data, terms, rho=rho, **kwargs)
        else:
            ((regularizer, weight),) = terms
            images, histories = proximal_gradient(
                data, regularizer, weight, accelerate=solver == "fista", **kwargs
            )
    if is_torch(images):
        images = images.detach().cpu().numpy()
    out = images.astype(np.complex128) * scales[:, None, None]
    return out.astype(np.complex64), histories, scales


def reconstruct_iter(
    kspace: np.ndarray,
    mask: np.ndarray,
    reg: str = "tv",
    lam: float | None = None,
    solver: str | None = None,
    max_iter: int = 100,
    tol: float = 0.0,
    wavelet: str = DEFAULT_WAVELET,
    levels: int | None = None,
    cycle_spin: bool | None = None,
    seed: int = 0,
    callback: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None] | None = None,
    chunk: int = DEFAULT_CHUNK,
    scale: float | None = None,
    rho: float | None = None,
    tv_iter: int = DEFAULT_TV_ITER,
    maps: Any = None,
    device: str | None = None,
) -> Iterator[SliceResult]:
    """Reconstruct a stack chunk by chunk, yielding each slice when its chunk is done.

    Memory is bounded by ``chunk`` slices of solver state; ``kspace`` may be
    any array-like sliceable along its first axis (an ``h5py`` dataset, a
    memory map), read one chunk at a time.  Parameters are those of
    :func:`reconstruct`.

    Yields
    ------
    SliceResult
        ``index``, ``image`` (complex64 ``(H, W)``, input units), ``history``, ``scale``.
    """
    lam, solver, cycle_spin = resolve_defaults(reg, lam, solver, cycle_spin)
    # Validate now, not at the first next(): errors surface where the call is made.
    _check_options(reg, lam, solver, max_iter, tol, wavelet, levels, cycle_spin, chunk)
    kspace, mask, maps = _check_arrays(kspace, mask, maps)
    device = resolve_device(device, kspace)
    if scale is not None and (
        isinstance(scale, bool)
        or not isinstance(scale, numbers.Real)
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise UsageError(f"scale must be a finite number > 0, got {scale!r}")
    if isinstance(tv_iter, bool) or not isinstance(tv_iter, numbers.Integral) or tv_iter < 1:
        raise UsageError(f"tv_iter must be a positive integer, got {tv_iter!r}")
    if rho is not None and (
        not isinstance(rho, numbers.Real) or not math.isfinite(rho) or rho <= 0
    ):
        raise UsageError(f"rho must be a finite number > 0, got {rho!r}")
    options = {
        "reg": reg,
        "lam": lam,
        "solver": solver,
        "max_iter": int(max_iter),
        "tol": float(tol),
        "wavelet": wavelet,
        "levels": levels,
        "cycle_spin": cycle_spin,
        "seed": seed,
        "callback": callback,
        "scale": scale,
        "rho": rho,
        "tv_iter": tv_iter,
        "device": device,
    }
    return _iterate(kspace, mask, maps, chunk, options)


def _iterate(
    kspace: Any, mask: np.ndarray, maps: Any, chunk: int, options: dict
) -> Iterator[SliceResult]:
    single = len(kspace.shape) == (2 if maps is None else 3)
    per_slice_maps = maps is not None and len(maps.shape) == 4
    n_slices = 1 if single else kspace.shape[0]
    for start in range(0, n_slices, chunk):
        stop = min(start + chunk, n_slices)
        block = kspace[None] if single else kspace[start:stop]
        if not is_torch(block):
            block = np.asarray(block)
        block_maps = maps[start:stop] if per_slice_maps else maps
        images, histories, scales = _solve_chunk(
            block, mask, np.arange(start, stop), maps=block_maps, **options
        )
        for j in range(stop - start):
            yield SliceResult(start + j, images[j], histories[j], float(scales[j]))


def reconstruct(
    kspace: np.ndarray,
    mask: np.ndarray,
    reg: str = "tv",
    lam: float | None = None,
    solver: str | None = None,
    max_iter: int = 100,
    tol: float = 0.0,
    wavelet: str = DEFAULT_WAVELET,
    levels: int | None = None,
    cycle_spin: bool | None = None,
    seed: int = 0,
    callback: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None] | None = None,
    chunk: int = DEFAULT_CHUNK,
    scale: float | None = None,
    rho: float | None = None,
    tv_iter: int = DEFAULT_TV_ITER,
    maps: Any = None,
    device: str | None = None,
) -> Reconstruction:
    """Compressed-sensing reconstruction of Cartesian k-space, single-coil or SENSE.

    Parameters
    ----------
    kspace : array-like or torch.Tensor, shape (S, H, W) or (H, W)
        Centred, masked k-space (any real or complex dtype); ``(S, C, H, W)`` or
        ``(C, H, W)`` with coil maps.
    mask : ndarray, shape (W,) or (H, W)
        Sampling mask, nonzero where sampled.
    reg : {"tv", "tv-aniso", "wavelet", "tv+wavelet", "tgv", "tv-reweighted", "tgv-reweighted"}
        Isotropic TV (BART's), anisotropic TV (SigPy's), l1 of wavelet details, their
        sum, second-order TGV, or isotropic TV or TGV with reweighted l1 weights (a log
        penalty, :mod:`csmri.regularizers.reweighted`; ADMM only).
    lam : float, optional
        Regularisation weight in normalised units (>= 0; 0 is least squares);
        :data:`DEFAULT_LAMBDA` when omitted.
    solver : {"fista", "ista", "admm"}, optional
        Algorithm; :data:`DEFAULT_SOLVER` when omitted (ADMM for TV, FISTA for wavelets).
    max_iter : int
        Maximum iterations per slice (> 0).
    tol : float
        Relative-change tolerance (0: always ``max_iter`` iterations).
    wavelet : str
        Orthogonal PyWavelets wavelet for ``reg="wavelet"``.
    levels : int, optional
        Wavelet levels (automatic when omitted).
    cycle_spin : bool, optional
        Random wavelet shifts per iteration, as BART (default on, every solver;
        ADMM takes the shifted prox as its wavelet ``z``-update).  It costs
        nothing and gained 1.8 dB (FISTA) on the 4x benchmark, but the objective
        then changes with the shift, so turn it off to compare objective values.
    seed : int
        Seeds the cycle-spinning shifts (per slice: ``[seed, slice index]``).
    callback : callable, optional
        ``callback(iteration, slice_indices, objective, images)`` after each iteration;
        ``images`` are the current iterates of those slices, in input units.
    chunk : int
        Slices solved together (memory bound and vectorisation width).
    scale : float, optional
        Use this data scale for every slice instead of the per-slice automatic one.
    rho : float, optional
        ADMM starting penalty (see :mod:`csmri.solvers.admm`).
    tv_iter : int
        FGP iterations per TV prox (FISTA/ISTA with TV), warm-started from the
        previous dual (:data:`csmri.defaults.DEFAULT_TV_ITER`); raise it for tight optima.
    maps : array or torch.Tensor, shape (C, H, W) or (S, C, H, W), optional
        Coil sensitivities: the SENSE operator ``M F S`` instead of single-coil ``M F``.
    device : {None, "auto", "cpu", "cuda", "cuda:N"}, optional
        Where the solve runs: None follows the data (NumPy arrays on the NumPy
        backend, torch tensors on their device); ``"cpu"`` is the NumPy backend
        (the fastest on a CPU); ``"cuda"`` is torch on the GPU; ``"auto"`` is
        ``"cuda"`` when one is available, else ``"cpu"``.

    Returns
    -------
    Reconstruction
        Images ``(S, H, W)`` complex64 NumPy in input units, histories, iterations, scales.

    Raises
    ------
    UsageError
        For an invalid option (unknown name, negative or NaN lambda, ...).
    InputError
        For unusable arrays (wrong shapes, NaN, empty mask).
    SolverError
        When a solver produces non-finite values or diverges.
    """
    lam, solver, cycle_spin = resolve_defaults(reg, lam, solver, cycle_spin)
    results = list(
        reconstruct_iter(
            kspace,
            mask,
            reg=reg,
            lam=lam,
            solver=solver,
            max_iter=max_iter,
            tol=tol,
            wavelet=wavelet,
            levels=levels,
            cycle_spin=cycle_spin,
            seed=seed,
            callback=callback,
            chunk=chunk,
            scale=scale,
            rho=rho,
            tv_iter=tv_iter,
            maps=maps,
            device=device,
        )
    )
    params = {
        "reg": reg,
        "lam": float(lam),
        "solver": solver,
        "max_iter": int(max_iter),
        "tol": float(tol),
        "wavelet": wavelet,
        "levels": levels,
        "cycle_spin": cycle_spin,
        "seed": int(seed),
    }
    return Reconstruction(
        images=np.stack([r.image for r in results]),
        history=[r.history for r in results],
        iterations=[r.history.iterations for r in results],
        scale=np.array([r.scale for r in results]),
        params=params,
    )
