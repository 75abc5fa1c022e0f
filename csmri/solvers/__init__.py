"""Solvers for ``min_x 1/2 ||M F x - y||^2 + lam R(x)`` on batches of slices.

* :func:`fista` / :func:`ista` (:mod:`csmri.solvers.proximal_gradient`): step 1
  (the exact Lipschitz constant), adaptive restart;
* :func:`admm` (:mod:`csmri.solvers.admm`): exact k-space-diagonal x-update.
"""

from __future__ import annotations

from csmri.solvers.admm import admm
from csmri.solvers.data import CartesianData
from csmri.solvers.history import History
from csmri.solvers.proximal_gradient import fista, ista, proximal_gradient

SOLVERS: tuple[str, ...] = ("fista", "ista", "admm")

__all__ = ["SOLVERS", "CartesianData", "History", "admm", "fista", "ista", "proximal_gradient"]
