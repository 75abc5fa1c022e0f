"""SENSE compressed sensing: ``min_x 1/2 sum_c ||M F (S_c x) - y_c||^2 + sum_j lam_j R_j(x)``.

The solve runs on the operator layer: :func:`csmri.reconstruct.reconstruct` with
``maps`` (the :class:`csmri.linop.Sense` operator; FISTA with the exact step, or
ADMM with warm-started CG for the normal equations), also for the sum of terms
TV + wavelet (the prior of Lustig et al. 2007, "Sparse MRI"; ADMM) and for (reweighted)
TGV (:mod:`csmri.solvers.tgv_general`: ADMM whose x-update is the same CG solve).  k-space is
divided by the per-slice data scale (BART's rule on ``|A^H y|``) and the images
multiplied back, so ``lam`` is in the same normalised units as for single-coil data.
The baselines (zero-filled RSS, the SENSE adjoint) live in :mod:`csmri.mri.baseline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from csmri.defaults import ADMM_ONLY, DEFAULT_WAVELET
from csmri.mri.baseline import rss_zero_filled, sense_adjoint
from csmri.solvers.history import History

__all__ = ["SenseResult", "rss_zero_filled", "sense_adjoint", "sense_reconstruct"]

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


def sense_reconstruct(
    kspace: np.ndarray,
    mask: np.ndarray,
    maps: np.ndarray,
    reg: str = "tv",
    lam: float | None = None,
    solver: str | None = None,
    max_iter: int = 100,
    tol: float = 0.0,
    wavelet: str = DEFAULT_WAVELET,
    seed: int = 0,
    device: str | None = None,
) -> SenseResult:
    """SENSE-CS reconstruction of a multi-coil stack.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred, masked k-space.
    mask : ndarray, shape (H, W) or (W,)
        Sampling mask.
    maps : ndarray, shape (S, C, H, W) or (C, H, W)
        Coil maps.
    reg : str
        Any regulariser of :data:`csmri.defaults.REGULARIZERS` that runs on SENSE
        (not :data:`csmri.defaults.SINGLE_COIL_ONLY`).
        Regulariser (``tv+wavelet``: both terms weighted by ``lam``; ``tv-reweighted``:
        :mod:`csmri.regularizers.reweighted`; ``tgv``, ``tgv-reweighted``:
        :mod:`csmri.solvers.tgv_general`; all four ADMM only).
    lam : float, optional
        Weight in normalised units (:data:`csmri.app.autolambda.SENSE_LAMBDA`).
    solver : {"fista", "admm"}, optional
        Default FISTA (cycle spinning for wavelets), ADMM for the sum, reweighted TV and TGV.
    max_iter, tol
        Iterations and relative-change tolerance (0: run all).
    wavelet : str
        Orthogonal wavelet name.
    seed : int
        Seeds the cycle-spinning shifts.
    device : str, optional
        ``None``/``"cpu"``: the NumPy backend; ``"cuda"``: torch on the GPU.

    Returns
    -------
    SenseResult
        Images in input units, histories and scales.
    """
    from csmri.app.autolambda import SENSE_LAMBDA
    from csmri.app.reconstruct import reconstruct

    lam = SENSE_LAMBDA if lam is None else float(lam)
    solver = ("admm" if reg in ADMM_ONLY else "fista") if solver is None else solver
    params = {"reg": reg, "lam": lam, "solver": solver, "max_iter": max_iter, "wavelet": wavelet}
    result = reconstruct(
        kspace,
        mask,
        reg=reg,
        lam=lam,
        solver=solver,
        max_iter=max_iter,
        tol=tol,
        wavelet=wavelet,
        seed=seed,
        maps=maps,
        device=device,
    )
    return SenseResult(np.asarray(result.images), result.history, result.scale, params)
