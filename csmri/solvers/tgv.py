"""Second-order total generalised variation (TGV, Bredies, Kunisch and Pock 2010) by ADMM.

``min_{x, w} 1/2 ||M F x - y||^2 + lam (alpha1 ||D x - w||_{2,1} + alpha0 ||E w||_{2,1})``

with ``D`` circular forward differences (the TV operator ``gradient`` of
:mod:`csmri.regularizers.tv`, with its adjoint ``divergence_adjoint``), ``w`` a vector
field ``(w_v, w_h)`` and ``E`` its symmetrised gradient from circular backward differences,
``E w = [[D-_v w_v, (D-_h w_v + D-_v w_h) / 2], [., D-_h w_h]]``, whose Frobenius norm
is taken per pixel.  ``alpha1 = 1`` (so ``lam`` is on TV's scale: TGV <= TV) and
``alpha0 = 2`` (:data:`TGV_RATIO`, the usual choice, e.g. Knoll et al. 2011).  TGV
penalises piecewise-*linear* images where TV penalises piecewise-constant ones, so it
avoids TV's staircasing on smooth intensity ramps.

ADMM splits ``p = D x - w`` and ``q = E' w`` (``E'`` stores the off-diagonal entry
times ``sqrt 2``, so that ``||E w||_F`` is a plain group norm over three components).
All operators are circular convolutions and, for the single-coil Cartesian operator,
``A^H A = F^H M F`` is diagonal in k-space too, so the joint ``(x, w)`` update is one
3 x 3 Hermitian system per frequency, inverted once (fixed ``rho``): three FFT pairs
per iteration.  Single-coil NumPy data only (:class:`csmri.solvers.data.CartesianFast`);
:mod:`csmri.solvers.tgv_general` runs the same iteration for any operator (SENSE, torch).

Reweighted TGV (``tgv-reweighted``) replaces both norms by the log penalty of
:mod:`csmri.regularizers.reweighted`: ``L(D x - w) + L(alpha0 E w)`` with
``L(z) = eps sum_p log(1 + |z|_p / eps)``, minimised as reweighted TV is: plain TGV first,
then per-pixel weights ``eps / (eps + |.|)`` on each term's threshold from the current
``(x, w)``, twice (at 50 and 75 of 100 iterations).  rho stays fixed.

The iteration runs in three fused kernels (:mod:`csmri.solvers.tgv_kernels`) around
the FFTs; the NumPy operators below define what they compute and serve the tests.
"""

from __future__ import annotations

import numpy as np

from csmri.regularizers.reweighted import REWEIGHT_EPS, log_weights, reweight_schedule
from csmri.regularizers.tv import gradient as grad
from csmri.solvers import tgv_kernels
from csmri.solvers.data import CartesianFast
from csmri.solvers.history import History, relative_change_from_norms
from csmri.solvers.norms import squared_norms
from csmri.solvers.runner import Callback, run

TGV_RATIO = 2.0
"""``alpha0 / alpha1``: the weight of the second-order term."""

SQRT2 = np.float32(np.sqrt(2.0))


def forward(x: np.ndarray, axis: int) -> np.ndarray:
    """Circular forward difference ``x[i+1] - x[i]`` along ``axis``."""
    return np.roll(x, -1, axis=axis) - x


def backward(x: np.ndarray, axis: int) -> np.ndarray:
    """Circular backward difference ``x[i] - x[i-1]`` along ``axis``."""
    return x - np.roll(x, 1, axis=axis)


def sym_grad(w: np.ndarray) -> np.ndarray:
    """``E' w``: ``(D-_v w_v, D-_h w_h, (D-_h w_v + D-_v w_h) / sqrt 2)``."""
    return np.stack(
        [
            backward(w[0], -2),
            backward(w[1], -1),
            (backward(w[0], -1) + backward(w[1], -2)) / SQRT2,
        ]
    )


def sym_grad_adjoint(q: np.ndarray) -> np.ndarray:
    """``E'^H q`` (``(D-)^H = -D+``)."""
    off = q[2] / SQRT2
    return -np.stack([forward(q[0], -2) + forward(off, -1), forward(q[1], -1) + forward(off, -2)])


def group_norms(field: np.ndarray) -> np.ndarray:
    """Pointwise Euclidean norm over the leading component axis."""
    return np.sqrt(np.sum(field.real**2 + field.imag**2, axis=0))


def group_shrink(field: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Group soft-thresholding over the leading axis (one threshold per slice)."""
    norms = group_norms(field)
    t = np.asarray(threshold, dtype=norms.dtype).reshape(-1, *([1] * (norms.ndim - 1)))
    factor = np.maximum(1.0 - t / np.maximum(norms, 1e-30), 0.0)
    return field * factor


def multipliers(shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Eigenvalues (uncentred FFT basis) of forward and backward differences, (H, W) each.

    Returns ``(fv, fh, bv, bh)``: forward vertical/horizontal, backward vertical/horizontal.
    """
    h, w = shape
    phase_v = np.exp(2j * np.pi * np.arange(h) / h)[:, None] * np.ones((1, w))
    phase_h = np.exp(2j * np.pi * np.arange(w) / w)[None, :] * np.ones((h, 1))
    return phase_v - 1, phase_h - 1, 1 - phase_v.conj(), 1 - phase_h.conj()


def system_inverse(mask: np.ndarray, rho: float) -> np.ndarray:
    """Per-frequency inverse of the ``(x, w_v, w_h)`` normal matrix, shape (3, 3, H, W).

    ``N = diag(M, 0, 0) + rho (G^H G + E'^H E')`` with ``G = [[fv, -1, 0], [fh, 0, -1]]``
    and ``E'`` the rows ``(0, bv, 0)``, ``(0, 0, bh)``, ``(0, bh, bv) / sqrt 2``.
    """
    fv, fh, bv, bh = multipliers(mask.shape)
    zero, one = np.zeros_like(fv), np.ones_like(fv)
    g = np.stack([np.stack([fv, -one, zero], -1), np.stack([fh, zero, -one], -1)], -2)
    e = np.stack(
        [
            np.stack([zero, bv, zero], -1),
            np.stack([zero, zero, bh], -1),
            np.stack([zero, bh / np.sqrt(2), bv / np.sqrt(2)], -1),
        ],
        -2,
    )
    normal = rho * (np.conj(np.swapaxes(g, -1, -2)) @ g + np.conj(np.swapaxes(e, -1, -2)) @ e)
    normal[..., 0, 0] += mask + rho * 1e-9  # the DC of x is free when the centre is unsampled
    inverse = np.linalg.inv(normal).astype(np.complex64)
    return np.ascontiguousarray(np.moveaxis(inverse, (-2, -1), (0, 1)))


class TGVADMM:
    """ADMM for TGV on a batch (driven by :func:`csmri.solvers.runner.run`).

    With ``reweight_at`` non-empty it minimises the reweighted (log) TGV of the module
    docstring instead, replacing the weights from the current ``(x, w)`` at those
    iterations.
    """

    def __init__(
        self,
        data: CartesianFast,
        lam: float,
        rho: float,
        reweight_at: set[int] | None = None,
        eps: float = REWEIGHT_EPS,
    ) -> None:
        self.data = data
        self.lam = float(lam)
        self.rho = float(rho)
        self.reweight_at = reweight_at or set()
        self.eps = float(eps) if self.reweight_at else 0.0
        self.weights = np.empty((0, 0, 0, 0), dtype=np.float32)
        self.iteration = 0
        self.inverse = system_inverse(data.mask, self.rho)
        self.fft, self.ifft = data.backend.fft2, data.backend.ifft2
        self.x = data.zero_filled().astype(np.complex64)
        self.w = np.zeros((2, *self.x.shape), dtype=np.complex64)
        self.p = np.ascontiguousarray(grad(self.x), dtype=np.complex64)
        self.q = np.ascontiguousarray(sym_grad(self.w), dtype=np.complex64)
        self.u, self.v = np.zeros_like(self.p), np.zeros_like(self.q)
        self.k_prev = data.y.copy()

    def _solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The joint (x, w) update; returns x, w and the spectrum of x."""
        x, w, k, _ = self._solve_with_terms()
        return x, w, k

    def _solve_with_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
        rhs = np.empty((3, *self.x.shape), dtype=np.complex64)
        tgv_kernels.right_hand_side(self.p, self.q, self.u, self.v, self.rho, rhs)
        spectra = self.fft(rhs)
        solution = np.empty_like(spectra)
        terms = tgv_kernels.kspace_solve(
            spectra, self.inverse, self.data.y, self.data.mask, self.k_prev, solution
        )
        images = self.ifft(solution)
        return images[0], images[1:], solution[0], terms

    def reweight(self, x: np.ndarray, w: np.ndarray) -> None:
        """Weights ``eps / (eps + |D x - w|)`` and ``eps / (eps + ratio |E' w|)`` per pixel."""
        first = group_norms(grad(x) - w)
        second = TGV_RATIO * group_norms(sym_grad(w))
        self.weights = np.ascontiguousarray(
            log_weights(np.stack([first, second]), self.eps), dtype=np.float32
        )

    def step(self) -> dict[str, np.ndarray]:
        """One iteration."""
        self.iteration += 1
        x, w, k, (data_term, change_sq, new_sq) = self._solve_with_terms()
        if self.iteration in self.reweight_at:
            self.reweight(x, w)
        thresholds = np.full(len(x), self.lam / self.rho, dtype=np.float32)
        primal_sq, dual_sq, reg = tgv_kernels.splits(
            x, w, self.p, self.q, self.u, self.v, thresholds, TGV_RATIO, self.weights, self.eps
        )
        self.x, self.w, self.k_prev = x, w, k
        return {
            "objective": data_term + self.lam * reg,
            "relative_change": relative_change_from_norms(change_sq, new_sq),
            "primal_residual": np.sqrt(primal_sq),
            "dual_residual": self.rho * np.sqrt(dual_sq),
            "rho": np.full(len(x), self.rho),
        }

    def images(self) -> np.ndarray:
        """Current images of the active slices."""
        return self.x

    def converged(self, stats: dict[str, np.ndarray], tol: float) -> np.ndarray:
        """Relative change of ``x`` and relative primal and dual residuals all below ``tol``.

        The residuals are relative to ``||(p, q)||`` and ``rho ||(u, v)||``; the change alone
        is not enough, since the first iteration reproduces the zero-filled start exactly.
        A reweighted solve does not stop before its last reweighting.
        """
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
        self.x, self.k_prev = self.x[index], self.k_prev[index]
        self.w, self.p, self.q = self.w[:, index], self.p[:, index], self.q[:, index]
        self.u, self.v = self.u[:, index], self.v[:, index]  # fancy indexing: contiguous copies
        if self.weights.size:
            self.weights = self.weights[:, index]
        self.data.keep(index)


def default_tgv_rho(lam: float) -> float:
    """The fixed penalty: ``30 lam`` clipped to ``[0.01, 1]``.

    Measured on 3 MNI152 slices at 4x (100 iterations, lambda 0.001 and 0.0018): rho 0.03-0.1
    scored 0.05-0.15 dB above TV's rule ``10 lam`` and within 0.02 dB of 300 iterations.
    """
    return float(np.clip(30.0 * lam, 0.01, 1.0))


def tgv_admm(
    data: CartesianFast,
    lam: float,
    max_iter: int = 100,
    tol: float = 0.0,
    rho: float | None = None,
    callback: Callback | None = None,
    reweights: int = 0,
) -> tuple[np.ndarray, list[History]]:
    """Solve the TGV problem of the module docstring for a batch of single-coil slices.

    Parameters
    ----------
    data : CartesianFast
        Single-coil data term on NumPy ``complex64`` (normalised units).
    lam : float
        Weight (>= 0) of the first-order term; the second-order one gets ``2 lam``.
    max_iter, tol
        Iterations and relative-change tolerance (0: run all).
    rho : float, optional
        Fixed ADMM penalty; :func:`default_tgv_rho` when omitted.
    callback : callable, optional
        See :data:`csmri.solvers.runner.Callback`.
    reweights : int
        Weight updates of reweighted TGV (0: plain TGV), at the iterations of
        :func:`csmri.regularizers.reweighted.reweight_schedule`.

    Returns
    -------
    images : ndarray, shape (S, H, W)
        Solutions in normalised units.
    histories : list of History
        One per slice.
    """
    schedule = reweight_schedule(max_iter, reweights)
    solver = TGVADMM(data, lam, default_tgv_rho(lam) if rho is None else rho, schedule)
    return run(solver, data.y.shape[0], "admm", max_iter, tol, callback)
