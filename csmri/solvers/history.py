"""Per-slice convergence history and the shared stopping / divergence rules."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from csmri.errors import SolverError

DIVERGENCE_FACTOR = 1e6
"""An objective this many times its first value counts as divergence."""


@dataclass
class History:
    """What one slice's solve did, one entry per iteration.

    Attributes
    ----------
    objective : list of float
        ``1/2||M F x - y||^2 + lam R(x)`` in normalised units (data divided by the scale).
    relative_change : list of float
        ``||x_k - x_{k-1}|| / ||x_k||`` of the solver variable (ADMM: of the image,
        measured in k-space; FISTA/ISTA with wavelets: of the padded image).
    primal_residual, dual_residual : list of float
        ADMM residuals ``||K x - z||`` and ``rho ||K^H (z_k - z_{k-1})||`` (empty for
        proximal gradient).
    rho : list of float
        ADMM penalty per iteration (empty for proximal gradient).
    cg_residual : list of float
        ADMM with a conjugate-gradient normal solve (SENSE): the relative residual
        ``||b - M x|| / ||b||`` the solve ended at (empty for exact solves).
    time : list of float
        Seconds of the iteration, for the whole batch the slice was solved in.
    converged : bool
        Whether ``relative_change < tol`` stopped the solve before ``max_iter``.
    """

    objective: list[float] = field(default_factory=list)
    relative_change: list[float] = field(default_factory=list)
    primal_residual: list[float] = field(default_factory=list)
    dual_residual: list[float] = field(default_factory=list)
    rho: list[float] = field(default_factory=list)
    cg_residual: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    converged: bool = False

    @property
    def iterations(self) -> int:
        """Iterations run."""
        return len(self.objective)


def check_finite(objective: np.ndarray, first: np.ndarray, iteration: int, solver: str) -> None:
    """Raise :class:`SolverError` on a non-finite or exploding objective.

    Parameters
    ----------
    objective : ndarray, shape (S,)
        Current objective per slice.
    first : ndarray, shape (S,)
        First recorded objective per slice.
    iteration : int
        1-based iteration, named in the message.
    solver : str
        Solver name, named in the message.
    """
    bad = ~np.isfinite(objective)
    if bad.any():
        raise SolverError(f"{solver} produced non-finite values at iteration {iteration}")
    limit = DIVERGENCE_FACTOR * np.maximum(first, np.finfo(np.float64).tiny)
    if np.any(objective > limit):
        raise SolverError(
            f"{solver} diverged at iteration {iteration}: objective grew above "
            f"{DIVERGENCE_FACTOR:g} times its first value"
        )


def relative_change_from_norms(diff_sq: np.ndarray, new_sq: np.ndarray) -> np.ndarray:
    """``||new - old|| / ||new||`` per slice from the squared norms (0 when both vanish)."""
    num = np.sqrt(diff_sq)
    den = np.sqrt(new_sq)
    return np.where(den > 0, num / np.maximum(den, np.finfo(np.float64).tiny), num)
