"""ADMM for ``1/2||A x - y||^2 + sum_i lam_i ||K_i x||`` with the operator's normal solve.

Splitting ``z_i = K_i x`` (``K = D`` circular differences for TV, ``K = W`` the
orthogonal wavelet on the padded domain), the scaled-form iteration is

* ``x = argmin 1/2||A x - y||^2 + rho/2 sum_i ||K_i x - z_i + u_i||^2``, i.e.
  ``(A^H A + rho G) x = A^H y + rho sum_i K_i^H (z_i - u_i)`` with
  ``G = sum_i K_i^H K_i``: ``D^H D`` and ``W^H W = I`` are diagonal in k-space,
  so for the single-coil operator the solve is exact, one FFT pair
  (:meth:`csmri.linop.Cartesian.solve_normal`, or the fused uncentred kernel on
  NumPy); SENSE has no closed form and uses warm-started conjugate gradients,
  whose final relative residual is recorded per iteration (``History.cg_residual``).
  The wavelet's pad has no data term: it takes ``W^H (z - u)`` directly.
* ``z_i = shrink(K_i x + u_i, lam_i / rho)``; ``u_i += K_i x - z_i``.

A cycle-spun wavelet term splits as ``z = x`` in the padded domain and takes the
shifted wavelet prox as its ``z``-update (:class:`csmri.solvers.splitting.SpunWaveletSplit`).

A sum of terms (TV + wavelet, the prior of Lustig et al. 2007) needs nothing
more: every term adds its ``K_i^H K_i`` to ``G``.

A reweighted TV term (:mod:`csmri.regularizers.reweighted`) replaces its per-pixel
weights from the current ``x`` at the iterations of its ``schedule(max_iter)``, just
before its ``z``-update; ``z`` and ``u`` carry over.  Its rho stays fixed: residual
balancing raised rho 4-16x after the reweightings and always ended at a higher objective than
the fixed start, up to 1.4 dB lower in PSNR (the benchmark's 320x320 and 216x180 Colin27
cases at 4x and 8x, lambda 0.001 and 0.003); 100 fixed-rho iterations matched the objective
of 1000 balanced ones to 1%.

Choice of rho: the data are normalised so that the image's robust maximum is
about 1 (:mod:`csmri.app.scaling`), and the data term has curvature 1 on sampled
frequencies, so the default starting value is ``rho = 1`` for wavelets (0.1 when
cycle-spun, :data:`SPUN_WAVELET_RHO`) and
``rho = 10 * lam`` (clipped to ``[1e-3, 1]``) for TV (TV's ``D^H D`` has norm 8, and
useful lambdas are 1e-3..3e-2; this start reached the FISTA optimum to 1e-6 relative
objective on the test problems, not a tuned optimum); a sum starts from its first
term's value.  It is then adapted per slice by residual balancing (Boyd et al.
2011, section 3.4.1): every 5 iterations, if the primal residual exceeds 10x the
dual residual rho is doubled, in the opposite case halved (the scaled duals are
rescaled accordingly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from csmri.arrays import is_torch
from csmri.errors import UsageError
from csmri.regularizers import Regularizer, WaveletL1
from csmri.regularizers.reweighted import ReweightedTV
from csmri.solvers.data import CartesianFast, LeastSquares
from csmri.solvers.history import History, relative_change_from_norms
from csmri.solvers.norms import squared_norms, to_numpy
from csmri.solvers.runner import Callback, run
from csmri.solvers.splitting import Split, SpunWaveletSplit

BALANCE_EVERY = 5
BALANCE_MU = 10.0
BALANCE_TAU = 2.0

Terms = Sequence[tuple[Regularizer, float]]
"""A sum of regulariser terms ``(regulariser, lambda)``."""


SPUN_WAVELET_RHO = 0.1
"""Starting penalty for a cycle-spun wavelet term: its z-update is a denoiser that moves
with the shift, and a smaller rho (a larger threshold lam/rho each iteration) recovers most of
what cycle spinning gives FISTA.  Measured on 3 MNI152 slices (haar, 100 iterations, lambda
0.00178): 4x 26.1 / 28.2 / 29.1 dB for rho 1 / 0.3 / 0.1 (FISTA 29.7); 8x 20.2 / 21.1 / 22.2."""


def default_rho(reg: Regularizer, lam: float) -> float:
    """The starting penalty (see the module docstring)."""
    if isinstance(reg, WaveletL1) and reg.cycle_spin:
        return SPUN_WAVELET_RHO
    if reg.gram is None:
        return 1.0
    return float(np.clip(10.0 * lam, 1e-3, 1.0))


def make_splits(terms: Terms) -> tuple[list[Split], Regularizer]:
    """The split terms and the regulariser whose domain is the solver's variable."""
    terms = list(terms)
    if not terms:
        raise UsageError("ADMM needs at least one regulariser term")
    wavelets = [reg for reg, _ in terms if isinstance(reg, WaveletL1)]
    owner = wavelets[0] if wavelets else terms[0][0]
    shapes = {w.transform.padded_shape for w in wavelets}
    if len(shapes) > 1:
        raise UsageError("wavelet terms of a sum must share one padded size (the same levels)")
    splits = []
    for reg, lam in terms:
        embedded = wavelets and not isinstance(reg, WaveletL1)
        crop = owner.to_image if embedded else None
        pad = owner.to_variable if embedded else None
        if isinstance(reg, WaveletL1) and reg.cycle_spin:
            splits.append(SpunWaveletSplit(reg, lam))
        else:
            splits.append(Split(reg, lam, crop, pad))
    return splits, owner


class ADMM:
    """One ADMM run on a batch (driven by :func:`csmri.solvers.runner.run`)."""

    def __init__(
        self,
        data: LeastSquares | CartesianFast,
        terms: Terms,
        rho: float | None,
        adaptive: bool,
        max_iter: int,
    ) -> None:
        self.data = data
        self.splits, self.owner = make_splits(terms)
        # Iterations at which a reweighted term replaces its weights from the current x.
        self.reweight_at = [
            s.reg.schedule(max_iter) if isinstance(s.reg, ReweightedTV) else set()
            for s in self.splits
        ]
        self.adaptive = adaptive and not any(self.reweight_at)
        first = self.splits[0]
        self.rho = np.full(
            data.y.shape[0], default_rho(first.reg, first.lam) if rho is None else float(rho)
        )
        # G = sum_i K_i^H K_i on the image: eigenvalues in centred k-space (None: a multiple of I).
        grams = [s.reg.gram for s in self.splits]
        if all(g is None for g in grams):
            self.gram, self.identity_weight = None, float(len(grams))
        else:
            shape = next(g for g in grams if g is not None).shape
            self.gram = sum(np.ones(shape, np.float32) if g is None else g for g in grams)
            self.identity_weight = 1.0
        self.pad_weight = float(sum(isinstance(s.reg, WaveletL1) for s in self.splits))
        self.x = self.owner.to_variable(data.zero_filled())
        self.z = [s.analysis(self.x) for s in self.splits]
        self.u = [_zeros_like(z) for z in self.z]
        self.b = self._synthesise(self.z)[0]
        self.iteration = 0

    def _synthesise(self, z_old: list) -> tuple[Any, np.ndarray]:
        b, dual_sq = None, 0.0
        for split, z, u, zo in zip(self.splits, self.z, self.u, z_old, strict=True):
            part, d = split.synthesise(z, u, zo)
            b = part if b is None else b + part
            dual_sq = dual_sq + d
        return b, dual_sq

    def _x_update(self) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        owner, b = self.owner, self.b
        rho = self.rho * self.identity_weight
        image, data_term, diff_sq, new_sq = self.data.solve(owner.to_image(b), rho, self.gram)
        if owner.to_image(b) is b:
            return image, data_term, diff_sq, new_sq
        pad = b if self.pad_weight == 1 else b / self.pad_weight
        if is_torch(b):
            x = pad - owner.to_variable(owner.to_image(pad)) + owner.to_variable(image)
        else:
            x = pad  # the pad keeps K^H (z - u) / (wavelet terms); the image is replaced
            owner.to_image(x)[...] = image
        return x, data_term, diff_sq, new_sq

    def step(self) -> dict[str, np.ndarray]:
        """One iteration."""
        self.iteration += 1
        x, data_term, diff_sq, new_sq = self._x_update()
        objective = data_term
        primal_sq = 0.0
        z_old = self.z
        z_new, u_new = [], []
        for split, z, u, at in zip(self.splits, self.z, self.u, self.reweight_at, strict=True):
            if self.iteration in at:
                split.reg.update_weights(split.analysis(x))
            zn, un, value, p_sq = split.update(x, z, u, split.lam / self.rho)
            z_new.append(zn)
            u_new.append(un)
            objective = objective + split.lam * to_numpy(value)
            primal_sq = primal_sq + p_sq
        self.x, self.z, self.u = x, z_new, u_new
        self.b, dual_sq = self._synthesise(z_old)
        primal = np.sqrt(primal_sq)
        dual = self.rho * np.sqrt(dual_sq)
        stats = {
            "objective": objective,
            "relative_change": relative_change_from_norms(diff_sq, new_sq),
            "primal_residual": primal,
            "dual_residual": dual,
            "rho": self.rho.copy(),
        }
        if self.data.last_cg_residual is not None:
            stats["cg_residual"] = self.data.last_cg_residual
        if self.adaptive and self.iteration % BALANCE_EVERY == 0:
            self._balance(primal, dual)
        return stats

    def _balance(self, primal: np.ndarray, dual: np.ndarray) -> None:
        up = primal > BALANCE_MU * dual
        down = dual > BALANCE_MU * primal
        if up.any() or down.any():
            factor = np.where(up, BALANCE_TAU, np.where(down, 1.0 / BALANCE_TAU, 1.0))
            self.rho = self.rho * factor
            self.u = [s.scale_dual(u, factor) for s, u in zip(self.splits, self.u, strict=True)]
            self.b = self._synthesise(self.z)[0]  # u changed: recompute K^H (z - u)

    def images(self) -> Any:
        """Current images of the active slices."""
        return self.owner.to_image(self.x)

    def converged(self, stats: dict[str, np.ndarray], tol: float) -> np.ndarray:
        """Relative change, relative primal and relative dual residuals all below ``tol``.

        A solve with a reweighted term does not stop before its last reweighting.
        """
        last = max((max(at) for at in self.reweight_at if at), default=0)
        if self.iteration < last:
            return np.zeros(len(self.rho), dtype=bool)
        kx = sum(s.norms(s.analysis(self.x)) ** 2 for s in self.splits)
        zz = sum(s.norms(z) ** 2 for s, z in zip(self.splits, self.z, strict=True))
        scale_p = np.maximum(np.sqrt(np.maximum(kx, zz)), 1e-30)
        ku = sum(
            (s.norms(u) if s.orthogonal else _image_norms(s.synthesis(u))) ** 2
            for s, u in zip(self.splits, self.u, strict=True)
        )
        scale_d = np.maximum(self.rho * np.sqrt(ku), 1e-30)
        return (
            (stats["relative_change"] < tol)
            & (stats["primal_residual"] / scale_p < tol)
            & (stats["dual_residual"] / scale_d < tol)
        )

    def keep(self, index: np.ndarray) -> None:
        """Drop finished slices from the batch."""
        self.x, self.b = _take(self.x, index), _take(self.b, index)
        self.z = [s.take(z, index) for s, z in zip(self.splits, self.z, strict=True)]
        self.u = [s.take(u, index) for s, u in zip(self.splits, self.u, strict=True)]
        self.rho = self.rho[index]
        self.data.keep(index)
        for split in self.splits:
            split.reg.keep(index)


def _image_norms(a: Any) -> np.ndarray:
    return np.sqrt(squared_norms(a))


def _zeros_like(a: Any) -> Any:
    if is_torch(a):
        import torch

        return torch.zeros_like(a)
    return np.zeros_like(a)


def _take(a: Any, index: np.ndarray) -> Any:
    if is_torch(a):
        import torch

        return a[torch.as_tensor(index, device=a.device)]
    return a[index]


def admm(
    data: LeastSquares | CartesianFast,
    reg: Regularizer | Terms,
    lam: float | None = None,
    max_iter: int = 100,
    tol: float = 0.0,
    rho: float | None = None,
    adaptive: bool = True,
    callback: Callback | None = None,
) -> tuple[Any, list[History]]:
    """Solve ``min 1/2||A x - y||^2 + sum_i lam_i ||K_i x||`` by ADMM on a batch of slices.

    Parameters
    ----------
    data : LeastSquares or CartesianFast
        Data term for ``S`` slices (normalised units), from :func:`csmri.solvers.least_squares`.
    reg : Regularizer or sequence of (Regularizer, float)
        One regulariser (weighted by ``lam``) or a sum of ``(regulariser, lambda)`` terms.
    lam : float, optional
        Weight of a single regulariser (>= 0); omit it for a sum of terms.
    max_iter : int
        Maximum iterations.
    tol : float
        Stop a slice when its relative change in ``x`` and its relative primal
        and dual residuals are all below ``tol`` (0 runs ``max_iter`` iterations).
    rho : float, optional
        Starting penalty; :func:`default_rho` of the first term when omitted.
    adaptive : bool
        Residual balancing of rho (off with a reweighted TV term: see the module docstring).
    callback : callable, optional
        ``callback(iteration, slice_indices, objective, images)`` after each iteration
        (``images``: the current iterates of the active slices, normalised units).

    Returns
    -------
    images : ndarray or torch.Tensor, shape (S, H, W)
        Solutions in normalised units, of the data's kind and device.
    histories : list of History
        One per slice, with primal/dual residuals, rho and (CG solves) the CG residual.
    """
    if isinstance(reg, Regularizer):
        if lam is None:
            raise UsageError("admm needs lam for a single regulariser")
        terms: Terms = [(reg, float(lam))]
    else:
        if lam is not None:
            raise UsageError("pass the weights inside the terms of a sum, not as lam")
        terms = list(reg)
    solver = ADMM(data, terms, rho, adaptive, max_iter)
    return run(solver, data.y.shape[0], "admm", max_iter, tol, callback)
