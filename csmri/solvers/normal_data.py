"""The data term through the normal operator only: non-Cartesian data without NUFFTs per iteration.

``1/2 ||A x - y||^2 = 1/2 <x, A^H A x> - Re <x, A^H y> + 1/2 ||y||^2``, and the gradient
is ``A^H A x - A^H y``.  With ``A^H A`` applied by Toeplitz embedding
(:class:`csmri.linop.nufft.NUFFT`) an iteration costs one FFT pair on a twice-larger
grid instead of a forward and an adjoint NUFFT.  The solvers' *spectrum* of an iterate
is here the pair ``k = (x, A^H A x)`` stacked on a new axis 1: linear in ``x``, so
FISTA's extrapolation of spectra works unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.arrays import is_torch
from csmri.linop import LinearOperator
from csmri.solvers.data import LeastSquares, _index, _per_slice
from csmri.solvers.norms import squared_norms


def _real_inner(a: Any, b: Any) -> np.ndarray:
    """``Re <a_s, b_s>`` per slice, float64 NumPy."""
    if is_torch(a):
        import torch

        with torch.no_grad():
            sums = (a.conj() * b).real.reshape(a.shape[0], -1).sum(-1)
            return sums.double().cpu().numpy()
    return np.array([np.vdot(p, q).real for p, q in zip(a, b, strict=True)], dtype=np.float64)


class NormalLeastSquares(LeastSquares):
    """:class:`LeastSquares` evaluated by ``A^H A`` (see the module docstring).

    Parameters
    ----------
    op : LinearOperator
        Forward model whose :meth:`~LinearOperator.normal` is cheap (Toeplitz).
    y : ndarray or torch.Tensor, shape (S, *oshape)
        Measurements.
    start : ndarray or torch.Tensor, shape (S, H, W), optional
        The solvers' first iterate (e.g. the density-compensated gridding image);
        ``A^H y`` when omitted.
    aty : ndarray or torch.Tensor, shape (S, H, W), optional
        ``A^H y`` if already known (e.g. computed once by the more accurate finufft for
        a torch solve: the data term's value cancels large terms, so it needs it exact).
    **kwargs
        ``cg_tol``, ``cg_iter`` of ADMM's conjugate-gradient normal solve.
    """

    def __init__(
        self, op: LinearOperator, y: Any, start: Any = None, aty: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(op, y, **kwargs)
        self.aty = op.adjoint(y) if aty is None else aty
        self.start = self.aty if start is None else start
        self.y_sq = squared_norms(y)

    def zero_filled(self) -> Any:
        """The first iterate (``start``)."""
        return self.start

    def forward(self, x: Any) -> Any:
        """``(x, A^H A x)`` stacked on axis 1."""
        normal = self.op.normal(x)
        if is_torch(x):
            import torch

            return torch.stack([x, normal], 1)
        return np.stack([x, normal], 1)

    def value(self, k: Any) -> np.ndarray:
        """``1/2 ||A x - y||^2`` per slice from ``k = (x, A^H A x)`` (float64)."""
        x, normal = k[:, 0], k[:, 1]
        value = 0.5 * _real_inner(x, normal) - _real_inner(x, self.aty) + 0.5 * self.y_sq
        return np.maximum(value, 0.0)  # rounding can dip below zero at an exact fit

    def gradient(self, k: Any) -> Any:
        """``A^H A x - A^H y``."""
        return k[:, 1] - self.aty

    def solve(
        self, b: Any, rho: np.ndarray, gram: np.ndarray | None
    ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """ADMM's x-update ``(A^H A + rho G)^-1 (A^H y + rho b)`` by warm-started CG."""
        rhs = self.aty + _per_slice(rho, b) * b
        x, self.last_cg_residual = self._cg(rhs, rho, gram)
        previous = self._x_prev if self._x_prev is not None else self.start
        diff_sq, new_sq = squared_norms(x - previous), squared_norms(x)
        self._x_prev = x
        return x, self.value(self.forward(x)), diff_sq, new_sq

    def keep(self, index: np.ndarray) -> None:
        """Keep only the slices ``index`` (the operator must be shared by all slices)."""
        maps = getattr(self.op, "maps", None)
        if maps is not None and len(maps.shape) == 4:
            raise NotImplementedError("per-slice coil maps: solve one slice at a time")
        take = _index(index, self.y)
        self.y, self.aty, self.start = self.y[take], self.aty[take], self.start[take]
        self.y_sq = self.y_sq[index]
        if self._x_prev is not None:
            self._x_prev = self._x_prev[take]
