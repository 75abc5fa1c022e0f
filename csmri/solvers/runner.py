"""What every iterative solver shares: the loop, histories, finite checks, callback, compaction.

A solver is an object with ``step()`` (one iteration of the active slices,
returning per-slice statistics), ``images()`` (the current images of the active
slices), ``converged(stats, tol)`` and ``keep(index)`` (drop finished slices
from the batch).  :func:`run` drives it: it times each iteration, records
:class:`~csmri.solvers.history.History`, stops on divergence or non-finite
values, calls the callback, and assembles the finished slices in input order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from csmri.arrays import is_torch
from csmri.solvers.history import History, check_finite

Callback = Callable[[int, np.ndarray, np.ndarray, Any], None]
"""``callback(iteration, slice_indices, objective, images)`` after each iteration
(``images``: the current iterates of the active slices, normalised units)."""

_RECORDED = ("primal_residual", "dual_residual", "rho", "cg_residual")


class Iterative(Protocol):
    """The interface :func:`run` drives."""

    def step(self) -> dict[str, np.ndarray]:
        """One iteration; per-slice ``objective``, ``relative_change`` and optional extras."""
        ...

    def images(self) -> Any:
        """Current images ``(S_active, H, W)``."""
        ...

    def converged(self, stats: dict[str, np.ndarray], tol: float) -> np.ndarray:
        """Which active slices meet the tolerance."""
        ...

    def keep(self, index: np.ndarray) -> None:
        """Keep only the active slices ``index``."""
        ...


def run(
    solver: Iterative,
    n_slices: int,
    name: str,
    max_iter: int,
    tol: float = 0.0,
    callback: Callback | None = None,
) -> tuple[Any, list[History]]:
    """Iterate ``solver`` until every slice has converged or ``max_iter`` is reached.

    Parameters
    ----------
    solver : Iterative
        The algorithm, set up on ``n_slices`` slices.
    n_slices : int
        Batch size.
    name : str
        Solver name for error messages.
    max_iter : int
        Maximum iterations.
    tol : float
        Tolerance passed to ``solver.converged`` (0 runs all ``max_iter`` iterations).
    callback : callable, optional
        See :data:`Callback`.

    Returns
    -------
    images : ndarray or torch.Tensor, shape (S, H, W)
        The final images, of the data's kind (differentiable on torch).
    histories : list of History
        One per slice.
    """
    histories = [History() for _ in range(n_slices)]
    finished: list[Any] = [None] * n_slices
    active = np.arange(n_slices)
    first: np.ndarray | None = None
    for it in range(1, max_iter + 1):
        start = time.perf_counter()
        stats = solver.step()
        elapsed = time.perf_counter() - start
        objective = stats["objective"]
        if first is None:
            first = objective.copy()
        check_finite(objective, first, it, name)
        for j, s in enumerate(active):
            h = histories[s]
            h.objective.append(float(objective[j]))
            h.relative_change.append(float(stats["relative_change"][j]))
            for key in _RECORDED:
                if key in stats:
                    getattr(h, key).append(float(stats[key][j]))
            h.time.append(elapsed)
        if callback is not None:
            callback(it, active.copy(), objective.copy(), solver.images())

        converged = solver.converged(stats, tol) if tol > 0 else np.zeros(len(active), bool)
        done = converged | (it == max_iter)
        if done.any():
            images = solver.images()
            for j in np.flatnonzero(done):
                finished[active[j]] = images[int(j)]
            for s in active[converged]:
                histories[s].converged = True
            keep = np.flatnonzero(~done)
            if keep.size == 0:
                break
            active, first = active[keep], first[keep]
            solver.keep(keep)
    return _stack(finished), histories


def _stack(parts: list) -> Any:
    if is_torch(parts[0]):
        import torch

        return torch.stack(parts)
    return np.stack(parts)
