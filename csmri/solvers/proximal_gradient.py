"""ISTA and FISTA (with adaptive restart) for ``1/2||A x - y||^2 + lam R(x)``.

The step is ``1 / L`` with ``L = ||A^H A||`` (exactly 1 for a masked orthonormal
FFT).  Each iteration costs one ``A`` and one ``A^H``: the forward transform of
the new iterate gives the objective's data term, and by linearity the transform
of the momentum point ``z = x_k + beta (x_k - x_{k-1})`` is the same combination
of stored spectra, so the gradient at ``z`` needs only the adjoint.

FISTA restarts its momentum per slice with O'Donoghue and Candes' gradient
scheme: when ``Re <z_{k-1} - x_k, x_k - x_{k-1}> > 0`` (the step goes against the
momentum).  Slices whose relative change drops below ``tol`` are frozen and
dropped from the batch.  The same code runs on NumPy (fused Numba kernels for a
``complex64`` stack) and on torch tensors (device of the data, differentiable).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.arrays import is_torch
from csmri.regularizers import Regularizer
from csmri.solvers.arith import extrapolate, step_stats
from csmri.solvers.data import CartesianFast, LeastSquares
from csmri.solvers.history import History, relative_change_from_norms
from csmri.solvers.norms import to_numpy
from csmri.solvers.runner import Callback, run


def _take(a: Any, keep: np.ndarray) -> Any:
    if is_torch(a):
        import torch

        return a[torch.as_tensor(keep, device=a.device)]
    return a[keep]


class ProximalGradient:
    """One ISTA/FISTA run on a batch (driven by :func:`csmri.solvers.runner.run`)."""

    def __init__(
        self,
        data: LeastSquares | CartesianFast,
        reg: Regularizer,
        lam: float,
        accelerate: bool,
        restart: bool,
    ) -> None:
        self.data, self.reg, self.lam = data, reg, float(lam)
        self.accelerate, self.restart = accelerate, restart
        self.step_size = 1.0 / data.lipschitz
        self.x = reg.to_variable(data.zero_filled())
        self.kx = data.forward(reg.to_image(self.x))
        self.z, self.kz = self.x, self.kx
        self.t = np.ones(self.kx.shape[0])

    def _gradient_step(self, grad: Any) -> Any:
        """``z - step * grad`` on the image part of the variable (the pad has no data term)."""
        reg, z = self.reg, self.z
        if self.step_size != 1.0:
            grad = grad * self.step_size
        if reg.to_image(z) is z:
            return z - grad
        if is_torch(z):
            return z - reg.to_variable(grad)
        v = z.copy()
        reg.to_image(v)[...] -= grad
        return v

    def _descend(self) -> Any:
        """``z - step * grad f(z)``: by data consistency where the fast data terms allow it."""
        data, reg, z = self.data, self.reg, self.z
        if isinstance(data, CartesianFast) and self.step_size == 1.0 and reg.to_image(z) is z:
            return data.unit_step(self.kz)
        return self._gradient_step(data.gradient(self.kz))

    def step(self) -> dict[str, np.ndarray]:
        """One iteration."""
        data, reg = self.data, self.reg
        v = self._descend()
        x_new, reg_value = reg.prox(v, self.lam * self.step_size)
        kx_new = data.forward(reg.to_image(x_new))
        if reg_value is None:
            reg_value = reg.value(x_new)
        objective = data.value(kx_new) + self.lam * to_numpy(reg_value)
        # One pass for ||x_new - x||, ||x_new|| and the restart test <z - x_new, x_new - x>.
        diff_sq, new_sq, against_momentum = step_stats(x_new, self.x, self.z)
        if self.accelerate:
            t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * self.t * self.t))
            beta = (self.t - 1.0) / t_new
            if self.restart:
                against = against_momentum > 0
                beta = np.where(against, 0.0, beta)
                t_new = np.where(against, 1.0, t_new)
            self.z = extrapolate(x_new, self.x, beta)
            self.kz = extrapolate(kx_new, self.kx, beta)
            self.t = t_new
        else:
            self.z, self.kz = x_new, kx_new
        self.x, self.kx = x_new, kx_new
        return {
            "objective": objective,
            "relative_change": relative_change_from_norms(diff_sq, new_sq),
        }

    def images(self) -> Any:
        """Current images of the active slices."""
        return self.reg.to_image(self.x)

    def converged(self, stats: dict[str, np.ndarray], tol: float) -> np.ndarray:
        """Relative change below ``tol``."""
        return stats["relative_change"] < tol

    def keep(self, index: np.ndarray) -> None:
        """Drop finished slices from the batch."""
        self.x, self.kx, self.z, self.kz = (
            _take(a, index) for a in (self.x, self.kx, self.z, self.kz)
        )
        self.t = self.t[index]
        self.data.keep(index)
        self.reg.keep(index)


def proximal_gradient(
    data: LeastSquares | CartesianFast,
    reg: Regularizer,
    lam: float,
    max_iter: int = 100,
    tol: float = 0.0,
    accelerate: bool = True,
    restart: bool = True,
    callback: Callback | None = None,
) -> tuple[Any, list[History]]:
    """Run ISTA (``accelerate=False``) or FISTA on a batch of slices.

    Parameters
    ----------
    data : LeastSquares or CartesianFast
        Data term for ``S`` slices (normalised units), from :func:`csmri.solvers.least_squares`.
    reg : Regularizer
        Regulariser (fresh: it keeps per-solve state).
    lam : float
        Regularisation weight (>= 0).
    max_iter : int
        Maximum iterations.
    tol : float
        Stop a slice when its relative change ``||x_k - x_{k-1}|| / ||x_k||`` is
        below ``tol`` (0 runs all ``max_iter`` iterations).
    accelerate : bool
        FISTA momentum (True) or plain ISTA.
    restart : bool
        Adaptive (gradient) restart of the momentum.
    callback : callable, optional
        ``callback(iteration, slice_indices, objective, images)`` after each iteration
        (``images``: the current iterates of the active slices, normalised units).

    Returns
    -------
    images : ndarray or torch.Tensor, shape (S, H, W)
        Solutions in normalised units, of the data's kind and device.
    histories : list of History
        One per slice.
    """
    solver = ProximalGradient(data, reg, lam, accelerate, restart)
    name = "fista" if accelerate else "ista"
    return run(solver, data.y.shape[0], name, max_iter, tol, callback)


def fista(data: LeastSquares | CartesianFast, reg: Regularizer, lam: float, **kwargs) -> tuple:
    """FISTA with adaptive restart; see :func:`proximal_gradient`."""
    return proximal_gradient(data, reg, lam, accelerate=True, **kwargs)


def ista(data: LeastSquares | CartesianFast, reg: Regularizer, lam: float, **kwargs) -> tuple:
    """ISTA (monotone objective with an exact prox); see :func:`proximal_gradient`."""
    return proximal_gradient(data, reg, lam, accelerate=False, **kwargs)
