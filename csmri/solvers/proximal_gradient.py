"""ISTA and FISTA (with adaptive restart) for ``1/2||M F x - y||^2 + lam R(x)``.

The step is ``1 / L`` with ``L = ||F^H M F|| = 1`` exactly (orthonormal FFT, 0/1
mask).  Each iteration costs one forward and one inverse FFT: the forward FFT of
the new iterate gives the objective's data term, and by linearity the FFT of the
momentum point ``z = x_k + beta (x_k - x_{k-1})`` is the same combination of
stored spectra, so the gradient at ``z`` needs only the inverse FFT.

FISTA restarts its momentum per slice with O'Donoghue and Candes' gradient
scheme: when ``Re <z_{k-1} - x_k, x_k - x_{k-1}> > 0`` (the step goes against the
momentum).  Slices whose relative change drops below ``tol`` are frozen and
dropped from the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from csmri.regularizers import Regularizer
from csmri.solvers import kernels
from csmri.solvers.data import CartesianData
from csmri.solvers.history import History, check_finite, relative_change_from_norms

Callback = Callable[[int, np.ndarray, np.ndarray, np.ndarray], None]
"""``callback(iteration, slice_indices, objective, images)`` after each iteration
(``images``: the current iterates of the active slices, normalised units)."""


def proximal_gradient(
    data: CartesianData,
    reg: Regularizer,
    lam: float,
    max_iter: int = 100,
    tol: float = 0.0,
    accelerate: bool = True,
    restart: bool = True,
    callback: Callback | None = None,
) -> tuple[np.ndarray, list[History]]:
    """Run ISTA (``accelerate=False``) or FISTA on a batch of slices.

    Parameters
    ----------
    data : CartesianData
        Data term for ``S`` slices (normalised units).
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
    images : ndarray of complex64, shape (S, H, W)
        Solutions in normalised units.
    histories : list of History
        One per slice.
    """
    solver = "fista" if accelerate else "ista"
    n_slices = data.y.shape[0]
    histories = [History() for _ in range(n_slices)]
    result = np.empty(data.y.shape, dtype=np.complex64)
    active = np.arange(n_slices)
    y = data.y

    x = reg.to_variable(data.zero_filled(y))
    kx = y.copy()  # F crop(x0) = F F^H y = y
    z, kz = x, kx
    t = np.ones(n_slices)
    first: np.ndarray | None = None
    for it in range(1, max_iter + 1):
        start = time.perf_counter()
        grad = data.gradient_from_kspace(kz, y)
        if reg.to_image(z) is z:
            v = np.subtract(z, grad)
        else:
            v = z.copy()
            reg.to_image(v)[...] -= grad
        x_new, reg_value = reg.prox(v, lam)
        kx_new = data.forward_full(reg.to_image(x_new))
        if reg_value is None:
            reg_value = reg.value(x_new)
        objective = data.value_from_kspace(kx_new, y) + lam * reg_value
        # One pass for ||x_new - x||, ||x_new|| and the restart test <z - x_new, x_new - x>.
        diff_sq, new_sq, against_momentum = kernels.step_stats(x_new, x, z)
        change = relative_change_from_norms(diff_sq, new_sq)
        if accelerate:
            t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / t_new
            if restart:
                against = against_momentum > 0
                beta = np.where(against, 0.0, beta)
                t_new = np.where(against, 1.0, t_new)
            b = beta.astype(np.float32)
            z = np.empty_like(x_new)
            kernels.extrapolate(x_new, x, b, z)
            kz = np.empty_like(kx_new)
            kernels.extrapolate(kx_new, kx, b, kz)
            t = t_new
        else:
            z, kz = x_new, kx_new
        x, kx = x_new, kx_new
        elapsed = time.perf_counter() - start

        if first is None:
            first = objective.copy()
        check_finite(objective, first, it, solver)
        for j, s in enumerate(active):
            h = histories[s]
            h.objective.append(float(objective[j]))
            h.relative_change.append(float(change[j]))
            h.time.append(elapsed)
        if callback is not None:
            callback(it, active.copy(), objective.copy(), reg.to_image(x))

        converged = change < tol if tol > 0 else np.zeros(len(active), dtype=bool)
        done = converged | (it == max_iter)
        if done.any():
            result[active[done]] = reg.to_image(x[done])
            for s in active[converged]:
                histories[s].converged = True
            keep = np.flatnonzero(~done)
            if keep.size == 0:
                break
            active, x, kx, z, kz, y = (a[keep] for a in (active, x, kx, z, kz, y))
            t, first = t[keep], first[keep]
            reg.keep(keep)
    return result, histories


def fista(
    data: CartesianData, reg: Regularizer, lam: float, **kwargs
) -> tuple[np.ndarray, list[History]]:
    """FISTA with adaptive restart; see :func:`proximal_gradient`."""
    return proximal_gradient(data, reg, lam, accelerate=True, **kwargs)


def ista(
    data: CartesianData, reg: Regularizer, lam: float, **kwargs
) -> tuple[np.ndarray, list[History]]:
    """ISTA (monotone objective with an exact prox); see :func:`proximal_gradient`."""
    return proximal_gradient(data, reg, lam, accelerate=False, **kwargs)
