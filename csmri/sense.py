"""SENSE compressed sensing: ``min_x 1/2 sum_c ||M F (S_c x) - y_c||^2 + sum_j lam_j R_j(x)``.

The data term works in uncentred FFT coordinates, as :mod:`csmri.solvers.data`
explains for one coil (a unit-modulus phase turns the centred FFT into a plain
one, per coil), so each iteration is one batched ``scipy.fft`` pair over
``slices x coils``.  The regularisers are those of :mod:`csmri.regularizers`
(TV with its FGP prox, wavelet l1 with cycle spinning), or their sum.

* FISTA (default; one regulariser) with adaptive restart: the step is ``1 / L``
  with ``L = max_r sum_c |S_c(r)|^2`` (``= 1`` for normalised maps), the
  bound on ``||A||^2`` from the 0/1 mask and the orthonormal FFT.  By linearity
  ``A z`` of the momentum point is a combination of stored spectra, so the
  exact objective of each iterate costs no extra FFT.
* ADMM (any sum of regularisers, e.g. TV + wavelet, Lustig et al. 2007):
  ``z_j = K_j x``; the x-update ``(A^H A + rho sum_j K_j^H K_j) x = b`` has no
  closed form with coil maps and is solved by ``cg_iter`` warm-started
  conjugate-gradient steps.

k-space is divided by a per-slice data scale (:func:`csmri.scaling.robust_scale`
of ``|A^H y|``, BART's rule) and the images multiplied back, so ``lam`` is in
normalised units, as for single-coil data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.fft

from csmri.errors import InputError, UsageError
from csmri.fft import fft_workers, ifft2c
from csmri.linop import CoilMaps
from csmri.regularizers import Regularizer, make_regularizer
from csmri.scaling import robust_scale
from csmri.solvers.data import shift_phase
from csmri.solvers.history import History, check_finite

SENSE_REGULARIZERS = ("tv", "wavelet", "tv+wavelet")
SENSE_SOLVERS = ("fista", "admm")
DEFAULT_SENSE_LAMBDA = {"tv": 0.003, "wavelet": 0.003, "tv+wavelet": 0.003}


@dataclass
class SenseResult:
    """Complex SENSE images ``(S, H, W)`` in input units, with per-slice histories."""

    images: np.ndarray
    history: list[History]
    scale: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def iterations(self) -> list[int]:
        """Iterations per slice."""
        return [h.iterations for h in self.history]


class SenseData:
    """The SENSE data term on a batch of slices, in uncentred FFT coordinates.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred, masked k-space (normalised).
    mask : ndarray of bool, shape (H, W)
        Centred sampling mask.
    maps : ndarray, shape (S, C, H, W)
        Coil maps (image space, centred).
    """

    def __init__(self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray) -> None:
        self.mask = np.fft.ifftshift(np.asarray(mask) != 0).astype(np.float32)
        phase = np.conj(shift_phase(kspace.shape[-2:]))
        self.y = (phase * np.fft.ifftshift(kspace, axes=(-2, -1)) * self.mask).astype(np.complex64)
        self.maps = np.ascontiguousarray(maps, dtype=np.complex64)
        self.lipschitz = float(np.max(np.sum(np.abs(self.maps) ** 2, axis=1)))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``F (S x)`` for images ``(S, H, W)`` (unmasked, uncentred)."""
        return scipy.fft.fft2(self.maps * x[:, None], norm="ortho", workers=fft_workers())

    def adjoint(self, k: np.ndarray) -> np.ndarray:
        """``sum_c conj(S_c) F^H k_c``."""
        coils = scipy.fft.ifft2(k, norm="ortho", workers=fft_workers(), overwrite_x=True)
        return np.einsum("schw,schw->shw", self.maps.conj(), coils)

    def residual(self, kx: np.ndarray) -> np.ndarray:
        """``M (F S x) - y``."""
        return self.mask * kx - self.y

    def value(self, kx: np.ndarray) -> np.ndarray:
        """``1/2 ||M F S x - y||^2`` per slice."""
        r = self.residual(kx)
        return 0.5 * np.einsum("schw,schw->s", r.conj(), r).real.astype(np.float64)

    def normal(self, x: np.ndarray) -> np.ndarray:
        """``A^H A x``."""
        return self.adjoint(self.mask * self.forward(x))

    def adjoint_data(self) -> np.ndarray:
        """``A^H y``: the SENSE adjoint (coil-combined zero-filled) image."""
        return self.adjoint(self.y.copy())


def rss_zero_filled(kspace: np.ndarray) -> np.ndarray:
    """Root-sum-of-squares of the zero-filled coil images, ``(S, H, W)`` float32.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred, masked k-space.

    Returns
    -------
    ndarray of float32, shape (S, H, W)
        fastMRI's multi-coil zero-filled baseline (and U-Net input).
    """
    images = ifft2c(np.asarray(kspace, dtype=np.complex64))
    return np.sqrt(np.sum(np.abs(images) ** 2, axis=1)).astype(np.float32)


def sense_adjoint(kspace: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Coil-combined zero-filled image ``sum_c conj(S_c) ifft2c(y_c)``, complex ``(S, H, W)``."""
    return CoilMaps(np.asarray(maps)).adjoint(ifft2c(kspace)).astype(np.complex64)


def _terms(reg: str, shape: tuple[int, int], wavelet: str, seeds: list) -> list[Regularizer]:
    if reg not in SENSE_REGULARIZERS:
        raise UsageError(
            f"unknown SENSE regulariser {reg!r}; choose {', '.join(SENSE_REGULARIZERS)}"
        )
    names = reg.split("+")
    return [
        make_regularizer(name, shape, wavelet=wavelet, cycle_spin=False, slice_seeds=seeds)
        for name in names
    ]


def sense_reconstruct(
    kspace: np.ndarray,
    mask: np.ndarray,
    maps: np.ndarray,
    reg: str = "tv",
    lam: float | None = None,
    solver: str | None = None,
    max_iter: int = 100,
    tol: float = 0.0,
    wavelet: str = "db4",
    cycle_spin: bool = True,
    seed: int = 0,
    rho: float | None = None,
    cg_iter: int = 5,
) -> SenseResult:
    """SENSE-CS reconstruction of a multi-coil stack.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred, masked k-space.
    mask : ndarray, shape (H, W)
        Sampling mask.
    maps : ndarray, shape (S, C, H, W)
        Coil maps.
    reg : {"tv", "wavelet", "tv+wavelet"}
        Regulariser (``tv+wavelet`` uses the same ``lam`` for both terms, ADMM only).
    lam : float, optional
        Weight in normalised units (:data:`DEFAULT_SENSE_LAMBDA`).
    solver : {"fista", "admm"}, optional
        FISTA for one regulariser, ADMM for the sum (the default picks).
    max_iter, tol
        Iterations and relative-change tolerance (0: run all).
    wavelet : str
        Orthogonal wavelet name.
    cycle_spin : bool
        Random wavelet shifts per FISTA iteration (as BART).
    seed : int
        Seeds the shifts.
    rho : float, optional
        ADMM penalty (default ``10 lam`` clipped to ``[1e-3, 1]``; 1 for wavelets alone).
    cg_iter : int
        Conjugate-gradient steps per ADMM x-update.

    Returns
    -------
    SenseResult
        Images in input units, histories and scales.
    """
    lam = DEFAULT_SENSE_LAMBDA.get(reg, 0.003) if lam is None else float(lam)
    solver = ("admm" if "+" in reg else "fista") if solver is None else solver
    if solver not in SENSE_SOLVERS:
        raise UsageError(f"unknown SENSE solver {solver!r}; choose {', '.join(SENSE_SOLVERS)}")
    if solver == "fista" and "+" in reg:
        raise UsageError(f"{reg} has no single prox: use --solver admm")
    if not np.isfinite(lam) or lam < 0:
        raise UsageError(f"lambda must be a finite number >= 0, got {lam!r}")
    kspace = np.asarray(kspace)
    maps = np.asarray(maps)
    if kspace.ndim != 4 or maps.shape != kspace.shape:
        raise InputError(f"k-space {kspace.shape} and maps {maps.shape} must both be (S, C, H, W)")
    s = kspace.shape[0]
    adjoint = sense_adjoint(kspace, maps)
    scales = np.array([robust_scale(np.abs(a)) for a in adjoint])
    y = (kspace / scales[:, None, None, None]).astype(np.complex64)
    data = SenseData(y, mask, maps)
    seeds = [[int(seed), i] for i in range(s)]
    terms = _terms(reg, y.shape[-2:], wavelet, seeds)
    if solver == "fista":
        if terms[0].name == "wavelet":
            terms[0].cycle_spin = bool(cycle_spin)
        images, histories = _fista(data, terms[0], lam, max_iter, tol)
    else:
        if rho is None:
            rho = 1.0 if reg == "wavelet" else float(np.clip(10 * lam, 1e-3, 1.0))
        images, histories = _admm(data, terms, lam, rho, max_iter, tol, cg_iter)
    out = (images.astype(np.complex128) * scales[:, None, None]).astype(np.complex64)
    params = {"reg": reg, "lam": lam, "solver": solver, "max_iter": max_iter, "wavelet": wavelet}
    return SenseResult(out, histories, scales, params)


def _fista(
    data: SenseData, reg: Regularizer, lam: float, max_iter: int, tol: float
) -> tuple[np.ndarray, list[History]]:
    step = 1.0 / max(data.lipschitz, 1e-12)
    histories = [History() for _ in range(data.y.shape[0])]
    x = reg.to_variable(data.adjoint_data())
    kx = data.forward(reg.to_image(x))
    z, kz, t = x.copy(), kx.copy(), 1.0
    first = None
    for it in range(max_iter):
        start = time.perf_counter()
        grad = reg.to_variable(data.adjoint(data.residual(kz)))
        x_new, value = reg.prox(z - step * grad, step * lam)
        kx_new = data.forward(reg.to_image(x_new))
        value = reg.value(x_new) if value is None else value
        objective = data.value(kx_new) + lam * np.asarray(value, dtype=np.float64)
        first = objective if first is None else first
        check_finite(objective, first, it, "fista")
        diff = x_new - x
        change = np.sqrt(_sq(diff) / np.maximum(_sq(x_new), 1e-30))
        restart = _dot(z - x_new, diff) > 0
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        beta = np.where(restart, 0.0, (t - 1) / t_new)
        t = 1.0 if restart.all() else t_new
        z = x_new + beta[:, None, None] * diff
        kz = kx_new + beta[:, None, None, None] * (kx_new - kx)
        x, kx = x_new, kx_new
        elapsed = time.perf_counter() - start
        for i, h in enumerate(histories):
            h.objective.append(float(objective[i]))
            h.relative_change.append(float(change[i]))
            h.time.append(elapsed)
        if tol > 0 and np.all(change < tol):
            for h in histories:
                h.converged = True
            break
    return np.ascontiguousarray(reg.to_image(x)), histories


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Re <a, b>`` per slice."""
    return np.einsum("sn,sn->s", a.reshape(a.shape[0], -1).conj(), b.reshape(b.shape[0], -1)).real


def _sq(a: np.ndarray) -> np.ndarray:
    flat = a.reshape(a.shape[0], -1)
    return np.einsum("sn,sn->s", flat.conj(), flat).real


def _admm(
    data: SenseData,
    terms: list[Regularizer],
    lam: float,
    rho: float,
    max_iter: int,
    tol: float,
    cg_iter: int,
) -> tuple[np.ndarray, list[History]]:
    n = data.y.shape[0]
    histories = [History() for _ in range(n)]

    def analysis(reg: Regularizer, x: np.ndarray) -> np.ndarray:
        return reg.analysis(reg.to_variable(x))

    def synthesis(reg: Regularizer, w: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(reg.to_image(reg.synthesis(w)))

    def system(x: np.ndarray) -> np.ndarray:
        out = data.normal(x)
        for reg in terms:
            out += rho * synthesis(reg, analysis(reg, x))
        return out

    aty = data.adjoint_data()
    x = aty.copy()
    zs = [analysis(reg, x) for reg in terms]
    us = [np.zeros_like(z) for z in zs]
    first = None
    for it in range(max_iter):
        start = time.perf_counter()
        b = aty.copy()
        for reg, z, u in zip(terms, zs, us, strict=True):
            b += rho * synthesis(reg, z - u)
        x_new = _cg(system, b, x, cg_iter)
        value = np.zeros(n)
        for j, reg in enumerate(terms):
            kx = analysis(reg, x_new)
            zs[j] = reg.shrink(kx + us[j], lam / rho)
            us[j] += kx - zs[j]
            value += reg.value(reg.to_variable(x_new))
        objective = data.value(data.forward(x_new)) + lam * value
        first = objective if first is None else first
        check_finite(objective, first, it, "admm")
        change = np.sqrt(_sq(x_new - x) / np.maximum(_sq(x_new), 1e-30))
        x = x_new
        elapsed = time.perf_counter() - start
        for i, h in enumerate(histories):
            h.objective.append(float(objective[i]))
            h.relative_change.append(float(change[i]))
            h.rho.append(rho)
            h.time.append(elapsed)
        if tol > 0 and np.all(change < tol):
            for h in histories:
                h.converged = True
            break
    return x, histories


def _cg(system, b: np.ndarray, x: np.ndarray, iters: int) -> np.ndarray:
    """Batched conjugate gradients on a Hermitian positive-definite ``system``, warm-started."""
    x = x.copy()
    r = b - system(x)
    p = r.copy()
    rr = _sq(r)
    for _ in range(iters):
        ap = system(p)
        alpha = rr / np.maximum(_dot(p, ap), 1e-30)
        x += alpha[:, None, None] * p
        r -= alpha[:, None, None] * ap
        rr_new = _sq(r)
        p = r + (rr_new / np.maximum(rr, 1e-30))[:, None, None] * p
        rr = rr_new
    return x
