"""TGV and reweighted TGV by ADMM for any linear forward model (SENSE, NUFFT, torch).

The model, the splitting ``p = D x - w``, ``q = E' w``, the default rho, the objective
and the reweighting are those of :mod:`csmri.solvers.tgv`; only the joint ``(x, w)``
update differs.  There it is a 3 x 3 solve per frequency, which needs ``A^H A``
diagonal in k-space (single coil).  Here ``w`` is eliminated exactly:

* with ``a = p - u``, ``b = q - v`` and ``s = E'^H b - a``, the ``w``-equation
  ``(I + E'^H E') w = D x + s`` gives ``w = K (D x + s)``, ``K = (I + E'^H E')^-1``,
  a 2 x 2 matrix per frequency (all of ``D``, ``E'`` are circular convolutions);
* substituted into the ``x``-equation it leaves
  ``(A^H A + rho G) x = A^H y + rho (D^H a + D^H K s)`` with the *scalar* Fourier
  multiplier ``G = D^H (I - K) D`` (positive semi-definite, zero at DC).

That is exactly ADMM's x-update for a regulariser with ``K^H K = G``, so the data term
solves it as it solves TV's (:meth:`csmri.solvers.data.LeastSquares.solve`): exact for
a Cartesian operator, warm-started CG for SENSE or any other operator.  The iterates
are those of the joint solve (up to the CG tolerance); an iteration costs the CG solve
plus six single-image FFTs (``s`` and ``w``: two each way, ``x`` forward, the
``D^H K s`` term back).

Measured (``benchmarks/RESULTS_tgv_sense.md``: 8 coils, a ramp-modulated Shepp-Logan
phantom, 4x, NumPy): with plain CG an iteration at 256 x 256 took 2.2-2.5x a SENSE-TV ADMM
iteration, its CG taking 13.5 normal-operator applications against TV's 8 (``G``
vanishes like ``|k|^4`` at low frequencies where ``D^H D`` does like ``|k|^2``); with the
circulant preconditioner of :mod:`csmri.solvers.preconditioner`, which the reconstruction
uses for SENSE, 8.1, about a plain SENSE-TV iteration.  At 128 x 128, 100 iterations scored
1.3 and 1.5 dB above SENSE-TV ADMM (lambda 0.001, 0.003).  The primal-dual iteration of
:mod:`csmri.solvers.tgv_pdhg` (one ``A`` and one ``A^H``) reaches tight objective gaps
sooner, but its images lag: 500 and 1000 iterations (6-14 s) scored 32.2 and 42.2 dB at
lambda 0.001 where 100 ADMM iterations (3 s) scored 45.4.  ADMM solves the data term
(nearly) exactly every iteration, where the primal-dual steps creep along its poorly
conditioned directions; so the reconstruction uses ADMM.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.arrays import constant_like, is_torch
from csmri.backend import get_backend
from csmri.regularizers.reweighted import REWEIGHT_EPS, log_weights, reweight_schedule
from csmri.solvers import tgv_kernels
from csmri.solvers.data import LeastSquares
from csmri.solvers.history import History, relative_change_from_norms
from csmri.solvers.norms import squared_norms, to_numpy
from csmri.solvers.runner import Callback, run
from csmri.solvers.tgv import TGV_RATIO, default_tgv_rho, multipliers
from csmri.solvers.tgv_ops import (
    fft2,
    gradient,
    gradient_adjoint,
    group_norms,
    ifft2,
    log_penalty,
    shrink,
    stack,
    sym_grad,
    sym_grad_adjoint,
    take,
    zeros,
)


def elimination(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The per-frequency constants of the elimination (uncentred FFT basis, complex128).

    Returns
    -------
    dict
        ``k`` (2, 2, H, W): ``(I + E'^H E')^-1``; ``kg`` (2, H, W): ``K g`` with
        ``g`` (2, H, W): ``(fv, fh)``, the multipliers of ``D``; ``gram`` (H, W), real:
        ``g^H (I - K) g``, the multiplier of ``D^H (I - K) D``.
    """
    fv, fh, bv, bh = multipliers(shape)
    # E'^H E' from the rows (bv, 0), (0, bh), (bh, bv) / sqrt 2 of E'.
    m = np.empty((*shape, 2, 2), dtype=np.complex128)
    m[..., 0, 0] = 1 + np.abs(bv) ** 2 + np.abs(bh) ** 2 / 2
    m[..., 1, 1] = 1 + np.abs(bh) ** 2 + np.abs(bv) ** 2 / 2
    m[..., 0, 1] = np.conj(bh) * bv / 2
    m[..., 1, 0] = np.conj(bv) * bh / 2
    k = np.linalg.inv(m)
    g = np.stack([fv, fh], -1)
    kg = np.einsum("...ij,...j->...i", k, g)
    gram = (np.abs(fv) ** 2 + np.abs(fh) ** 2) - np.einsum("...i,...i->...", g.conj(), kg).real
    return {
        "k": np.moveaxis(k, (-2, -1), (0, 1)),
        "kg": np.moveaxis(kg, -1, 0),
        "g": np.moveaxis(g, -1, 0),
        "gram": np.maximum(gram, 0.0),
    }


def _fused(*arrays: Any) -> bool:
    """Whether the Numba kernels of :mod:`csmri.solvers.tgv_kernels` apply."""
    return all(
        isinstance(a, np.ndarray) and a.dtype == np.complex64 and a.flags.c_contiguous
        for a in arrays
    )


class GeneralTGVADMM:
    """ADMM for (reweighted) TGV with any :class:`LeastSquares` data term (see the module).

    Driven by :func:`csmri.solvers.runner.run`; NumPy arrays or torch tensors, any device.
    """

    def __init__(
        self,
        data: LeastSquares,
        lam: float,
        rho: float,
        reweight_at: set[int] | None = None,
        eps: float = REWEIGHT_EPS,
    ) -> None:
        self.data = data
        self.lam, self.rho = float(lam), float(rho)
        self.reweight_at = reweight_at or set()
        self.eps = float(eps) if self.reweight_at else 0.0
        self.iteration = 0
        self.x = data.zero_filled()
        self.weights: Any = None
        const = elimination(tuple(self.x.shape[-2:]))
        # Leading axes (2, 2) and (2,), then a slice axis to broadcast over the batch.
        self.k = constant_like(const["k"][:, :, None], self.x)
        self.kg = constant_like(const["kg"][:, None], self.x)
        self.gh = constant_like(const["g"][:, None].conj(), self.x)
        self.gram = constant_like(np.fft.fftshift(const["gram"]), self.x.real)  # centred
        self.w = zeros((2, *self.x.shape), self.x)
        self.p, self.q = gradient(self.x), zeros((3, *self.x.shape), self.x)
        self.u, self.v = zeros(self.p.shape, self.x), zeros(self.q.shape, self.x)
        self.backend = None if is_torch(self.x) else get_backend()

    def _rhs(self) -> tuple[Any, Any]:
        """``(D^H a, s)`` with ``a = p - u``, ``s = E'^H (q - v) - a``."""
        if _fused(self.p, self.q, self.u, self.v):
            out = np.empty((3, *self.p.shape[1:]), dtype=np.complex64)
            tgv_kernels.right_hand_side(self.p, self.q, self.u, self.v, 1.0, out)
            return out[0], out[1:]
        a = self.p - self.u
        return gradient_adjoint(a), sym_grad_adjoint(self.q - self.v) - a

    def _update_xw(self) -> tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray]:
        dha, s = self._rhs()
        t = fft2(s, self.backend)
        t = self.k[:, 0] * t[0] + self.k[:, 1] * t[1]  # K s in k-space, (2, S, H, W)
        b = dha + ifft2(self.gh[0] * t[0] + self.gh[1] * t[1], self.backend)  # + D^H K s
        rho = np.full(len(self.x), self.rho)
        x, data_term, diff_sq, new_sq = self.data.solve(b, rho, self.gram)
        w = ifft2(self.kg * fft2(x, self.backend) + t, self.backend)
        return x, w, data_term, diff_sq, new_sq

    def reweight(self, x: Any, w: Any) -> None:
        """Weights ``eps / (eps + |D x - w|)`` and ``eps / (eps + ratio |E' w|)`` per pixel."""
        first = group_norms(gradient(x) - w)
        second = TGV_RATIO * group_norms(sym_grad(w))
        self.weights = log_weights(stack([first, second]), self.eps)

    def _splits(self, x: Any, w: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shrink ``p``, ``q``, update ``u``, ``v``; primal^2, dual change^2 and the penalty."""
        thresholds = np.full(len(x), self.lam / self.rho, dtype=np.float32)
        if _fused(x, w, self.p, self.q, self.u, self.v):
            weights = self.weights
            if weights is None:
                weights = np.empty((0, 0, 0, 0), dtype=np.float32)
            weights = np.ascontiguousarray(weights, dtype=np.float32)
            return tgv_kernels.splits(
                x, w, self.p, self.q, self.u, self.v, thresholds, TGV_RATIO, weights, self.eps
            )
        first, second = gradient(x) - w, sym_grad(w)
        t = constant_like(thresholds.astype(np.float64), first.real).reshape(-1, 1, 1)
        t1, t2 = (t, TGV_RATIO * t) if self.weights is None else (
            t * self.weights[0], TGV_RATIO * t * self.weights[1])
        p, q = shrink(first + self.u, t1), shrink(second + self.v, t2)
        m1, m2 = group_norms(first), TGV_RATIO * group_norms(second)
        if self.eps > 0:
            reg = log_penalty(m1, self.eps) + log_penalty(m2, self.eps)
        else:
            reg = to_numpy(m1.sum((-2, -1))) + to_numpy(m2.sum((-2, -1)))
        primal_sq = squared_norms(first - p, 1) + squared_norms(second - q, 1)
        dual_sq = squared_norms(p - self.p, 1) + squared_norms(q - self.q, 1)
        self.u, self.v = self.u + first - p, self.v + second - q
        self.p, self.q = p, q
        return primal_sq, dual_sq, reg

    def step(self) -> dict[str, np.ndarray]:
        """One iteration."""
        self.iteration += 1
        x, w, data_term, diff_sq, new_sq = self._update_xw()
        if self.iteration in self.reweight_at:
            self.reweight(x, w)
        primal_sq, dual_sq, reg = self._splits(x, w)
        self.x, self.w = x, w
        stats = {
            "objective": data_term + self.lam * np.asarray(reg, dtype=np.float64),
            "relative_change": relative_change_from_norms(diff_sq, new_sq),
            "primal_residual": np.sqrt(primal_sq),
            "dual_residual": self.rho * np.sqrt(dual_sq),
            "rho": np.full(len(self.x), self.rho),
        }
        if self.data.last_cg_residual is not None:
            stats["cg_residual"] = self.data.last_cg_residual
        return stats

    def images(self) -> Any:
        """Current images of the active slices."""
        return self.x

    def converged(self, stats: dict[str, np.ndarray], tol: float) -> np.ndarray:
        """The rule of :meth:`csmri.solvers.tgv.TGVADMM.converged` (change and residuals)."""
        if self.reweight_at and self.iteration < max(self.reweight_at):
            return np.zeros(len(self.x), dtype=bool)
        split = np.sqrt(squared_norms(self.p, 1) + squared_norms(self.q, 1))
        dual = self.rho * np.sqrt(squared_norms(self.u, 1) + squared_norms(self.v, 1))
        return (
            (stats["relative_change"] < tol)
            & (stats["primal_residual"] < tol * np.maximum(split, 1e-30))
            & (stats["dual_residual"] < tol * np.maximum(dual, 1e-30))
        )

    def keep(self, index: np.ndarray) -> None:
        """Drop finished slices from the batch."""
        self.x = take(self.x, index, 0)
        for name in ("w", "p", "q", "u", "v"):
            setattr(self, name, take(getattr(self, name), index, 1))
        if self.weights is not None:
            self.weights = take(self.weights, index, 1)
        self.data.keep(index)


def tgv_general(
    data: LeastSquares,
    lam: float,
    max_iter: int = 100,
    tol: float = 0.0,
    rho: float | None = None,
    callback: Callback | None = None,
    reweights: int = 0,
) -> tuple[Any, list[History]]:
    """Solve the (reweighted) TGV problem of :mod:`csmri.solvers.tgv` for any operator.

    Parameters
    ----------
    data : LeastSquares
        Data term of any :class:`csmri.linop.LinearOperator` (normalised units), on NumPy
        arrays or torch tensors; the x-update uses its ``solve`` (exact or CG).
    lam : float
        Weight (>= 0) of the first-order term; the second-order one gets ``2 lam``.
    max_iter, tol
        Iterations and tolerance (0: run all), the rule of :func:`csmri.solvers.tgv.tgv_admm`.
    rho : float, optional
        Fixed ADMM penalty; :func:`csmri.solvers.tgv.default_tgv_rho` when omitted.
    callback : callable, optional
        See :data:`csmri.solvers.runner.Callback`.
    reweights : int
        Weight updates of reweighted TGV (0: plain TGV), at the iterations of
        :func:`csmri.regularizers.reweighted.reweight_schedule`.

    Returns
    -------
    images : ndarray or torch.Tensor, shape (S, H, W)
        Solutions in normalised units, of the data's kind and device.
    histories : list of History
        One per slice (with the CG residual where the x-update used CG).
    """
    schedule = reweight_schedule(max_iter, reweights)
    solver = GeneralTGVADMM(data, lam, default_tgv_rho(lam) if rho is None else rho, schedule)
    return run(solver, data.y.shape[0], "admm", max_iter, tol, callback)
