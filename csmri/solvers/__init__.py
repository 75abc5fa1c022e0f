"""Solvers for ``min_x 1/2 ||A x - y||^2 + sum_i lam_i R_i(x)`` on batches of slices.

They consume only the operator layer (:mod:`csmri.linop`) through a data term
(:func:`least_squares`) and regularisers, on NumPy arrays or torch tensors:

* :func:`fista` / :func:`ista` (:mod:`csmri.solvers.proximal_gradient`): step ``1/L``,
  adaptive restart;
* :func:`admm` (:mod:`csmri.solvers.admm`): the operator's exact normal solve
  (single coil) or warm-started conjugate gradients (SENSE); sums of terms.

What they share (the loop, histories, finite checks, callback, batch compaction)
is :func:`csmri.solvers.runner.run`.
"""

from __future__ import annotations

from csmri.solvers.admm import admm
from csmri.solvers.data import CartesianColumns, CartesianFast, LeastSquares, least_squares
from csmri.solvers.history import History
from csmri.solvers.proximal_gradient import fista, ista, proximal_gradient

SOLVERS: tuple[str, ...] = ("fista", "ista", "admm")

__all__ = [
    "SOLVERS",
    "CartesianColumns",
    "CartesianFast",
    "History",
    "LeastSquares",
    "admm",
    "fista",
    "ista",
    "least_squares",
    "proximal_gradient",
]
