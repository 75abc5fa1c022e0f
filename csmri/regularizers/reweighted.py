"""Iteratively reweighted l1 for TV (here) and TGV (:mod:`csmri.solvers.tgv`): log penalties.

Reweighted l1 (Candes, Wakin and Boyd 2008) replaces ``sum_p |D x|_p`` by the concave

    ``L(x) = eps * sum_p log(1 + |D x|_p / eps)``,

which equals TV for gradients much smaller than ``eps`` and grows only logarithmically
for edges, so edges are shrunk less and flat regions more.  ``L`` is minimised by
majorisation: at an iterate ``x_k`` it is bounded above by the weighted TV
``sum_p w_p |D x|_p`` (plus a constant) with ``w_p = eps / (eps + |D x_k|_p)``, tight at
``x_k``.  ADMM (:mod:`csmri.solvers.admm`) starts on plain TV and replaces the weights from
its current iterate at the iterations of :meth:`ReweightedTV.schedule`, so the whole
solve costs what plain TV costs; each reweighting continues from the current splitting
variables.  ``L`` is not convex: the result depends on the start (the TV solution part
of the way) and there is no certificate of a global optimum.

``eps`` is in normalised units (the image's robust maximum is about 1, :mod:`csmri.app.scaling`).
Measured with 100 ADMM iterations and two reweightings (at 50 and 75) against plain TV,
each at its best lambda, on images other than the embedded sample
(``benchmarks/lambda_curves_rw.json``: 3 MNI152 slices, the Shepp-Logan phantom and
scikit-image's camera; smooth phase, noise 0.005, fastMRI random masks with 12 or more centre
lines): +0.61 to +0.98 dB (MNI152) and +1.9 dB (camera) at 4x, +0.32 to +0.83 dB and +0.9 dB
at 8x, +11 and +20 dB on the piecewise-constant phantom.  On the benchmark's Colin27 slice
at 216 x 180 and 8x with 7 or 14 centre columns, where every method stays within 0.7 dB of
zero-filling, it ended 0.06 and 0.49 dB below TV: weights taken from an aliased iterate keep
the aliasing's edges.

TGV's ADMM uses :func:`reweight_schedule`, :func:`log_weights` and :data:`REWEIGHT_EPS` from
here for its two terms.
"""

from __future__ import annotations

import numpy as np

from csmri.arrays import is_torch
from csmri.errors import UsageError
from csmri.regularizers import Array, TotalVariation
from csmri.regularizers import tv as _tv
from csmri.regularizers import tv_kernels as _tv_kernels

REWEIGHT_EPS = 0.1
"""``eps`` of the log penalty (normalised units): gradients well below it are treated as TV.

Measured in a NumPy prototype on the 3 MNI152 slices (gain over TV at each one's best lambda):
0.05 and 0.1 within 0.14 dB of each other at 4x; at 8x 0.1 was ahead by 0.09-0.20 dB."""

REWEIGHTS = 2
"""Weight updates per solve (:meth:`ReweightedTV.schedule`).  In the same prototype one update
at iteration 70 was 0.04-0.27 dB ahead at 8x and 0.02-0.09 dB behind at 4x."""


def reweight_schedule(max_iter: int, reweights: int = REWEIGHTS) -> set[int]:
    """Iterations that replace the weights: ``max_iter (1 - 2^-k)``, ``k = 1..reweights``.

    Each update comes after half of the iterations left (50 and 75 of 100), so the last
    weighted problem still gets a quarter of the iterations.
    """
    points = {round(max_iter * (1.0 - 0.5**k)) for k in range(1, reweights + 1)}
    return {p for p in points if 0 < p < max_iter}


def log_weights(magnitude: Array, eps: float = REWEIGHT_EPS) -> Array:
    """``eps / (eps + magnitude)``: the slope of ``eps log(1 + m / eps)`` at ``magnitude``."""
    return eps / (eps + magnitude)


class ReweightedTV(TotalVariation):
    """Isotropic TV with per-pixel weights ``eps / (eps + |D x_k|)`` from the iterate ``x_k``.

    The objective ADMM reports is ``L`` (:meth:`norm`), not TV, from the first iteration.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    reweights : int
        Weight updates per solve (0: plain isotropic TV).
    eps : float
        ``eps`` of the log penalty, normalised units (> 0).
    """

    def __init__(
        self, shape: tuple[int, int], reweights: int = REWEIGHTS, eps: float = REWEIGHT_EPS
    ) -> None:
        super().__init__(shape, isotropic=True)
        self.weights: Array | None = None
        if reweights < 0 or eps <= 0:
            raise UsageError(f"reweights must be >= 0 and eps > 0, got {reweights} and {eps}")
        self.name = "tv-reweighted"
        self.reweights = int(reweights)
        self.eps = float(eps)

    def schedule(self, max_iter: int) -> set[int]:
        """Iterations that replace the weights (:func:`reweight_schedule`)."""
        return reweight_schedule(max_iter, self.reweights)

    def fused_z_update(
        self, x: np.ndarray, u: np.ndarray, z: np.ndarray, thresholds: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """ADMM's fused update with the per-pixel weights; returns ``L(x)`` and primal^2."""
        weights = np.empty((0, 0, 0), x.dtype) if self.weights is None else self.weights
        return _tv_kernels.admm_z_update(x, u, z, thresholds, True, weights, self.eps)

    def update_weights(self, w: Array) -> None:
        """Weights ``eps / (eps + |w|_p)`` from a gradient field ``w = D x`` ``(2, S, H, W)``."""
        self.weights = log_weights(_magnitude(w), self.eps)

    def shrink(self, w: Array, threshold: float | np.ndarray) -> Array:
        """Group soft-thresholding with threshold ``threshold_s * weight_p`` per pixel."""
        if self.weights is None:
            return super().shrink(w, threshold)
        magnitude = _magnitude(w)
        if is_torch(w):
            import torch

            per_slice = torch.as_tensor(threshold, dtype=magnitude.dtype, device=w.device)
            safe = torch.clamp(magnitude, min=torch.finfo(magnitude.dtype).tiny)
            return w * torch.clamp(1.0 - per_slice.reshape(-1, 1, 1) * self.weights / safe, min=0)
        per_slice = np.asarray(threshold, dtype=magnitude.dtype).reshape(-1, 1, 1)
        safe = np.maximum(magnitude, np.finfo(magnitude.dtype).tiny)
        return w * np.maximum(1.0 - per_slice * self.weights / safe, 0.0)

    def value(self, x: Array) -> Array:
        """The log penalty ``L(x)`` per slice (float64): what the reweighting minimises."""
        return self.norm(self.analysis(x))

    def norm(self, w: Array) -> Array:
        """``eps sum_p log(1 + |w|_p / eps)`` per slice of a gradient field."""
        magnitude = _magnitude(w)
        if is_torch(w):
            return self.eps * (magnitude / self.eps).log1p().sum(dim=(-2, -1))
        magnitude = magnitude.astype(np.float64)
        return self.eps * np.sum(np.log1p(magnitude / self.eps), axis=(-2, -1))

    def keep(self, index: np.ndarray) -> None:
        """Narrow the weights with the slices."""
        super().keep(index)
        if self.weights is not None:
            self.weights = self.weights[index]


def _magnitude(w: Array) -> Array:
    """Pointwise joint magnitude ``|w|_p`` of a gradient field ``(2, S, H, W)``."""
    if is_torch(w):
        from csmri.regularizers import torch_ops

        return torch_ops.moduli(w, isotropic=True)
    return _tv.magnitude(w, isotropic=True)
