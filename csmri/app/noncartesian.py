"""Compressed sensing of non-Cartesian (radial, spiral) k-space, through the Cartesian solvers.

Each slice solves ``x* = argmin_x 1/2 ||A x - y||^2 + lam R(x)`` with ``A`` the
:class:`csmri.linop.nufft.NUFFT` of the trajectory, or :class:`~csmri.linop.nufft.SenseNUFFT`
``N S`` with coil maps.  The data term is :class:`csmri.solvers.normal_data.NormalLeastSquares`
(``A^H A`` by Toeplitz embedding: no NUFFT per iteration), the solvers and regularisers are
the Cartesian ones (FISTA/ISTA, ADMM with a warm-started CG x-update).  As in
:mod:`csmri.app.reconstruct`, k-space is divided by BART's robust scale
(:mod:`csmri.app.scaling`), here of the density-compensated gridding image
``|A^H D y|`` (Pipe-Menon ``D``, :mod:`csmri.mri.density`), which is also the
solvers' first iterate, and the result is multiplied back.  The data term is
unweighted (``D`` only scales and starts), as in ``bart pics`` with a trajectory, but
multiplied by the mean weight (k-space area per sample, 1 on a Cartesian grid), so that
lambda has the units of :func:`csmri.app.reconstruct.reconstruct`'s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from csmri.app.reconstruct import Reconstruction, _check_options, resolve_defaults
from csmri.app.scaling import robust_scale
from csmri.arrays import is_torch
from csmri.defaults import DEFAULT_TV_ITER, DEFAULT_WAVELET, REWEIGHTED_TGV, TGVS
from csmri.device import resolve_device, to_device
from csmri.errors import InputError
from csmri.linop.base import Scaled
from csmri.linop.nufft import NUFFT, SenseNUFFT
from csmri.mri.density import pipe_menon
from csmri.mri.trajectories import matrix_size
from csmri.regularizers import make_terms
from csmri.regularizers.reweighted import REWEIGHTS
from csmri.solvers import admm, proximal_gradient
from csmri.solvers.normal_data import NormalLeastSquares
from csmri.solvers.tgv_general import tgv_general

#: Conjugate-gradient tolerance and iterations of ADMM's x-update, warm-started.  On
#: 4-coil radial 128x128 data (30 ADMM iterations) TV gave the same PSNR (31.75-31.77 dB)
#: with 5, 10 or 20 CG iterations; wavelets (cycle-spun) did best with 5 (29.5 dB against
#: 27.9 dB with 20, which also took twice the time).
CG_TOL = 1e-4
CG_ITER = 5


def _stacks(kspace: Any, traj: np.ndarray, maps: Any) -> tuple[np.ndarray, Any]:
    """k-space as ``(S, [C,] *samples)`` complex128 and maps as ``(S, C, H, W)`` or None."""
    host = np.asarray(kspace.detach().cpu() if is_torch(kspace) else kspace)
    samples = tuple(np.shape(traj)[1:])
    core = len(samples) + (0 if maps is None else 1)
    if host.ndim not in (core, core + 1) or tuple(host.shape[host.ndim - len(samples):]) != samples:
        raise InputError(f"k-space of shape {host.shape} does not match the trajectory's "
                         f"samples {samples}")
    if not np.issubdtype(host.dtype, np.number) or not np.all(np.isfinite(host)):
        raise InputError("k-space must be numeric and finite")
    host = host.astype(np.complex128)[None] if host.ndim == core else host.astype(np.complex128)
    if maps is None:
        return host, None
    maps = np.asarray(maps.detach().cpu() if is_torch(maps) else maps, dtype=np.complex128)
    maps = np.broadcast_to(maps, (host.shape[0], *maps.shape[-3:])) if maps.ndim == 3 else maps
    if maps.shape[:2] != host.shape[:2]:
        raise InputError(f"coil maps of shape {maps.shape} do not match k-space {host.shape}")
    return host, maps


def reconstruct_noncartesian(
    kspace: Any,
    traj: np.ndarray,
    shape: tuple[int, int] | None = None,
    *,
    maps: Any = None,
    weights: np.ndarray | None = None,
    reg: str = "tv",
    lam: float | None = None,
    solver: str | None = None,
    max_iter: int = 100,
    tol: float = 0.0,
    wavelet: str = DEFAULT_WAVELET,
    levels: int | None = None,
    cycle_spin: bool | None = None,
    seed: int = 0,
    rho: float | None = None,
    tv_iter: int = DEFAULT_TV_ITER,
    cg_tol: float = CG_TOL,
    cg_iter: int = CG_ITER,
    scale: float | None = None,
    device: str | None = None,
) -> Reconstruction:
    """Compressed-sensing reconstruction of non-Cartesian k-space, single-coil or SENSE.

    Parameters
    ----------
    kspace : array, shape ``([S,] [C,] *samples)``
        Samples at the trajectory points (BART's ``bart nufft`` units); ``(*samples)`` or
        ``(S, *samples)``, and with maps ``(C, *samples)`` or ``(S, C, *samples)``.
    traj : array, shape ``(2 or 3, *samples)``
        BART-convention coordinates in pixels (:mod:`csmri.mri.trajectories`).
    shape : tuple of int, optional
        ``(H, W)``; from the trajectory's extent (:func:`matrix_size`) when omitted.
    maps : array, shape (C, H, W) or (S, C, H, W), optional
        Coil sensitivities.
    weights : array, shape ``(*samples)``, optional
        Density compensation for the scale and the start (Pipe-Menon when omitted).
    reg, lam, solver, max_iter, tol, wavelet, levels, cycle_spin, seed, rho, tv_iter
        As in :func:`csmri.app.reconstruct.reconstruct` (TGV by the general solver); the
        defaults (ADMM for TV, FISTA for wavelets) hold here too: on 4-coil radial and
        spiral data (128x128, 4x) FISTA's wavelet solves reached a lower objective and
        0.3-1.1 dB more in a fifth of ADMM's time, but on single-coil radial
        Shepp-Logan (64x64, 24 spokes) ADMM was 4-11 dB ahead: pass ``solver="admm"``
        there.  TV by FISTA lagged ADMM by 5-8 dB at 100 iterations (radial ``A^H A``
        is ill-conditioned: a dense centre).
    cg_tol, cg_iter : float, int
        ADMM's conjugate-gradient x-update: relative residual and most iterations.
    scale : float, optional
        A fixed data scale instead of the automatic one.
    device : {None, "auto", "cpu", "cuda", "cuda:N"}, optional
        None/"cpu": NumPy with finufft; torch devices use torchkbnufft.

    Returns
    -------
    Reconstruction
        Images ``(S, H, W)`` complex64 in input units, histories, iterations, scales.
    """
    lam, solver, cycle_spin = resolve_defaults(reg, lam, solver, cycle_spin)
    _check_options(reg, lam, solver, max_iter, tol, wavelet, levels, cycle_spin, None)
    shape = matrix_size(traj) if shape is None else (int(shape[0]), int(shape[1]))
    device = resolve_device(device, kspace)
    host, maps = _stacks(kspace, traj, maps)
    weights = pipe_menon(traj, shape) if weights is None else np.asarray(weights, np.float64)
    nufft = NUFFT(traj, shape, toeplitz=True)
    images, histories, scales = [], [], []
    for s, y in enumerate(host):
        op = nufft if maps is None else SenseNUFFT(maps[s], nufft)
        gridded = op.adjoint(y * weights)
        factor = robust_scale(np.abs(gridded)) if scale is None else float(scale)
        # sqrt(mean w): the data term sums over k-space area, as a Cartesian one does over
        # grid points, so lambda means the same on both (mean w = area per sample).
        area = math.sqrt(float(np.mean(weights)))
        y = y * (area / factor)
        aty = Scaled(op, area).adjoint(y)  # finufft, also for torch solves (exact)
        if device is not None and maps is not None:
            op = SenseNUFFT(to_device(maps[s].astype(np.complex64), device), nufft)
        data = NormalLeastSquares(
            Scaled(op, area), to_device(y.astype(np.complex64)[None], device),
            start=to_device((gridded / factor).astype(np.complex64)[None], device),
            aty=to_device(aty.astype(np.complex64)[None], device), cg_tol=cg_tol, cg_iter=cg_iter,
        )
        kwargs = {"max_iter": max_iter, "tol": tol}
        if reg in TGVS:  # the general TGV: its x-update is this data term's CG solve
            reweights = REWEIGHTS if reg == REWEIGHTED_TGV else 0
            image, history = tgv_general(data, float(lam), rho=rho, reweights=reweights,
                                         **kwargs)
        elif solver == "admm":
            terms = make_terms(reg, shape, lam, wavelet=wavelet, levels=levels,
                               cycle_spin=cycle_spin, slice_seeds=[[int(seed), s]],
                               tv_iter=tv_iter)
            image, history = admm(data, terms, rho=rho, **kwargs)
        else:
            terms = make_terms(reg, shape, lam, wavelet=wavelet, levels=levels,
                               cycle_spin=cycle_spin, slice_seeds=[[int(seed), s]],
                               tv_iter=tv_iter)
            ((regularizer, weight),) = terms
            image, history = proximal_gradient(data, regularizer, weight,
                                               accelerate=solver == "fista", **kwargs)
        image = image.detach().cpu().numpy() if is_torch(image) else image
        images.append((image[0].astype(np.complex128) * factor).astype(np.complex64))
        histories.append(history[0])
        scales.append(factor)
    params = {"reg": reg, "lam": float(lam), "solver": solver, "max_iter": int(max_iter),
              "tol": float(tol), "wavelet": wavelet, "levels": levels,
              "cycle_spin": cycle_spin, "seed": int(seed), "cg_tol": cg_tol}
    return Reconstruction(np.stack(images), histories, [h.iterations for h in histories],
                          np.array(scales), params)


def gridding_reconstruction(
    kspace: Any, traj: np.ndarray, shape: tuple[int, int] | None = None, *,
    maps: Any = None, weights: np.ndarray | None = None,
) -> np.ndarray:
    """The non-Cartesian zero-filled baseline: density-compensated adjoint ``A^H D y``.

    Single-coil, or coil-combined by the maps (``S^H``); for a Nyquist-sampled
    trajectory the result has the image's amplitude (:mod:`csmri.mri.density`).

    Returns
    -------
    ndarray of complex64, shape (S, H, W)
        One image per slice.
    """
    shape = matrix_size(traj) if shape is None else (int(shape[0]), int(shape[1]))
    host, maps = _stacks(kspace, traj, maps)
    weights = pipe_menon(traj, shape) if weights is None else np.asarray(weights, np.float64)
    nufft = NUFFT(traj, shape)
    if maps is None:
        return nufft.adjoint(host * weights).astype(np.complex64)
    return np.stack([SenseNUFFT(m, nufft).adjoint(y * weights)
                     for m, y in zip(maps, host, strict=True)]).astype(np.complex64)
