"""TGV and reweighted TGV by the primal-dual iteration of Chambolle and Pock (Knoll et al. 2011).

The problem, objective and reweighting are those of :mod:`csmri.solvers.tgv`; every term
is dualised: with ``K (x, w) = (A x, D x - w, E' w)`` and duals ``(r, p, q)``,

* ``r = (r + sigma (A xb - y)) / (1 + sigma)``, ``p = P_{lam}(p + sigma (D xb - wb))``,
  ``q = P_{2 lam}(q + sigma E' wb)`` (``P_t``: per-pixel projection on the ball of radius
  ``t``, times the weight of reweighted TGV);
* ``x -= tau (A^H r + D^H p)``, ``w -= tau (E'^H q - p)``; ``(xb, wb) = 2 (x, w)_new - (x, w)``.

One ``A`` and one ``A^H`` per iteration and no inner solve (``K xb`` is combined from
``K x`` of the last two iterates, ``K`` being linear), so it suits operators without a
cheap normal solve (SENSE, NUFFT).  Steps ``sigma = s / L``, ``tau = 1 / (s L)`` with
``L^2 = ||A^H A|| + max eig(K_reg^H K_reg)`` >= ``||K||^2``, the second term exact per
frequency.  It needs 5-10 times ADMM's iterations, each 1/3 (preconditioned CG) to 1/7
(plain CG) of an ADMM iteration on 8-coil SENSE; it wins on tight objective gaps, ADMM on
image quality in a given time (:mod:`csmri.solvers.tgv_general` gives the numbers).

Stopping: the relative change of ``x`` and the primal and dual residuals of Goldstein,
Esser and Baraniuk (2013), ``||K^H y_new||`` and ``||(y - y_new) / sigma - K (z_new -
zb)||``, each relative to the size of its terms, all below ``tol``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.regularizers.reweighted import REWEIGHT_EPS, log_weights, reweight_schedule
from csmri.solvers.data import LeastSquares
from csmri.solvers.history import History, relative_change_from_norms
from csmri.solvers.norms import squared_norms, to_numpy
from csmri.solvers.runner import Callback, run
from csmri.solvers.tgv import TGV_RATIO, multipliers
from csmri.solvers.tgv_ops import (
    gradient,
    gradient_adjoint,
    group_norms,
    log_penalty,
    project,
    stack,
    sym_grad,
    sym_grad_adjoint,
    take,
    zeros,
)


def regularizer_norm_sq(shape: tuple[int, int]) -> float:
    """``||K_reg||^2`` of ``K_reg (x, w) = (D x - w, E' w)``, the largest eigenvalue over k."""
    fv, fh, bv, bh = multipliers(shape)
    zero, one = np.zeros_like(fv), np.ones_like(fv)
    rows = [
        [fv, -one, zero],
        [fh, zero, -one],
        [zero, bv, zero],
        [zero, zero, bh],
        [zero, bh / np.sqrt(2), bv / np.sqrt(2)],
    ]
    k = np.moveaxis(np.array(rows), (0, 1), (-2, -1))  # (H, W, 5, 3)
    return float(np.linalg.eigvalsh(np.conj(np.swapaxes(k, -1, -2)) @ k).max())


class TGVPDHG:
    """Chambolle-Pock for (reweighted) TGV on a batch (driven by :func:`run`)."""

    def __init__(
        self,
        data: LeastSquares,
        lam: float,
        ratio: float = 1.0,
        reweight_at: set[int] | None = None,
        eps: float = REWEIGHT_EPS,
    ) -> None:
        self.data, self.lam = data, float(lam)
        self.reweight_at = reweight_at or set()
        self.eps = float(eps) if self.reweight_at else 0.0
        self.iteration = 0
        x = data.zero_filled()
        norm = float(np.sqrt(data.lipschitz + regularizer_norm_sq(tuple(x.shape[-2:]))))
        self.sigma, self.tau = ratio / norm, 1.0 / (ratio * norm)
        self.x, self.w = x, zeros((2, *x.shape), x)
        self.k, self.g1, self.g2 = data.forward(x), gradient(x), zeros((3, *x.shape), x)
        self.kb, self.g1b, self.g2b = self.k, self.g1, self.g2
        self.r, self.p, self.q = zeros(data.y.shape, data.y), zeros(self.w.shape, x), self.g2
        self.weights: Any = None

    def _radius(self, factor: float, term: int) -> Any:
        radius = factor * self.lam
        return radius if self.weights is None else radius * self.weights[term]

    def step(self) -> dict[str, np.ndarray]:
        """One iteration."""
        self.iteration += 1
        sigma, tau, y = self.sigma, self.tau, self.data.y
        r = (self.r + sigma * (self.kb - y)) / (1.0 + sigma)
        p = project(self.p + sigma * self.g1b, self._radius(1.0, 0))
        q = project(self.q + sigma * self.g2b, self._radius(TGV_RATIO, 1))
        ahr, dhp, ehq = self.data.op.adjoint(r), gradient_adjoint(p), sym_grad_adjoint(q)
        dx, dw = ahr + dhp, ehq - p  # K^H (r, p, q): the primal residual
        x, w = self.x - tau * dx, self.w - tau * dw
        k, g1, g2 = self.data.forward(x), gradient(x) - w, sym_grad(w)
        m1, m2 = group_norms(g1), TGV_RATIO * group_norms(g2)
        if self.eps > 0:
            reg = log_penalty(m1, self.eps) + log_penalty(m2, self.eps)
        else:
            reg = to_numpy(m1.sum((-2, -1))) + to_numpy(m2.sum((-2, -1)))
        dual_sq = (
            squared_norms((self.r - r) / sigma - (k - self.kb))
            + squared_norms((self.p - p) / sigma - (g1 - self.g1b), 1)
            + squared_norms((self.q - q) / sigma - (g2 - self.g2b), 1)
        )
        stats = {
            "objective": self.data.value(k) + self.lam * np.asarray(reg, dtype=np.float64),
            "relative_change": relative_change_from_norms(
                squared_norms(x - self.x), squared_norms(x)
            ),
            "primal_residual": np.sqrt(squared_norms(dx) + squared_norms(dw, 1)),
            "dual_residual": np.sqrt(dual_sq),
        }
        self._primal_scale = np.sqrt(
            squared_norms(ahr) + squared_norms(dhp) + squared_norms(ehq, 1) + squared_norms(p, 1)
        )
        self._dual_scale = np.sqrt(squared_norms(k) + squared_norms(g1, 1) + squared_norms(g2, 1))
        if self.iteration in self.reweight_at:
            self.weights = log_weights(stack([m1, m2]), self.eps)
        self.kb, self.g1b, self.g2b = 2 * k - self.k, 2 * g1 - self.g1, 2 * g2 - self.g2
        self.x, self.w, self.k, self.g1, self.g2 = x, w, k, g1, g2
        self.r, self.p, self.q = r, p, q
        return stats

    def images(self) -> Any:
        """Current images of the active slices."""
        return self.x

    def converged(self, stats: dict[str, np.ndarray], tol: float) -> np.ndarray:
        """Relative change and residuals below ``tol`` (not before the last reweighting)."""
        if self.reweight_at and self.iteration < max(self.reweight_at):
            return np.zeros(len(self.x), dtype=bool)
        return (
            (stats["relative_change"] < tol)
            & (stats["primal_residual"] < tol * np.maximum(self._primal_scale, 1e-30))
            & (stats["dual_residual"] < tol * np.maximum(self._dual_scale, 1e-30))
        )

    def keep(self, index: np.ndarray) -> None:
        """Drop finished slices from the batch."""
        for name in ("x", "k", "kb", "r"):
            setattr(self, name, take(getattr(self, name), index, 0))
        for name in ("w", "g1", "g2", "g1b", "g2b", "p", "q"):
            setattr(self, name, take(getattr(self, name), index, 1))
        if self.weights is not None:
            self.weights = take(self.weights, index, 1)
        self._primal_scale = self._primal_scale[index]
        self._dual_scale = self._dual_scale[index]
        self.data.keep(index)


def tgv_pdhg(
    data: LeastSquares,
    lam: float,
    max_iter: int = 1000,
    tol: float = 0.0,
    ratio: float = 1.0,
    callback: Callback | None = None,
    reweights: int = 0,
) -> tuple[Any, list[History]]:
    """Solve the (reweighted) TGV problem of :mod:`csmri.solvers.tgv` by Chambolle-Pock.

    Parameters
    ----------
    data : LeastSquares
        Data term of any operator (normalised units), NumPy or torch; uses ``A`` and ``A^H``.
    lam : float
        Weight (>= 0) of the first-order term; the second-order one gets ``2 lam``.
    max_iter, tol
        Iterations and tolerance (0: run all; see the module docstring).
    ratio : float
        ``s`` of the steps ``sigma = s / L``, ``tau = 1 / (s L)``.
    callback : callable, optional
        See :data:`csmri.solvers.runner.Callback`.
    reweights : int
        Weight updates of reweighted TGV (0: plain TGV), at the iterations of
        :func:`csmri.regularizers.reweighted.reweight_schedule`.

    Returns
    -------
    images : ndarray or torch.Tensor, shape (S, H, W)
        Solutions in normalised units.
    histories : list of History
        One per slice (``primal_residual``, ``dual_residual`` of the module docstring).
    """
    schedule = reweight_schedule(max_iter, reweights)
    solver = TGVPDHG(data, lam, ratio, schedule)
    return run(solver, data.y.shape[0], "pdhg", max_iter, tol, callback)

