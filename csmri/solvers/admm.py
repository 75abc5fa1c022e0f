"""ADMM with an exact, k-space-diagonal x-update (no inner CG).

Splitting ``z = K x`` (``K = D`` circular differences for TV, ``K = W`` the
orthogonal wavelet on the padded domain), the scaled-form iteration is

* ``x = argmin 1/2||M F x - y||^2 + rho/2 ||K x - z + u||^2``:
  for TV, ``D^H D = F^H Lambda F`` so ``F x = (y + rho F D^H (z - u)) / (M + rho Lambda)``;
  for wavelets, ``W^H W = I`` on the padded domain: the pad takes ``W^H (z - u)``
  and the image ``F x = (y + rho F crop(W^H (z - u))) / (M + rho)``.
  Frequencies with ``M + rho Lambda = 0`` (unsampled and unpenalised) are set to 0.
* ``z = shrink(K x + u, lam / rho)``; ``u += K x - z``.

Per iteration: one FFT pair plus ``K`` and ``K^H``.

Choice of rho: the data are normalised so that the image's robust maximum is
about 1 (:mod:`csmri.scaling`), and the data term has curvature 1 on sampled
frequencies, so the default starting value is ``rho = 1`` for wavelets and
``rho = 10 * lam`` (clipped to ``[1e-3, 1]``) for TV (TV's ``D^H D`` has norm 8, and
useful lambdas are 1e-3..3e-2; this start reached the FISTA optimum to 1e-6 relative
objective on the test problems, not a tuned optimum).  It is then adapted per slice by residual
balancing (Boyd et al. 2011, section 3.4.1): every 5 iterations, if the primal
residual exceeds 10x the dual residual rho is doubled, in the opposite case
halved (the scaled dual ``u`` is rescaled accordingly).  Changing rho only
recomputes the diagonal ``M + rho Lambda``.
"""

from __future__ import annotations

import time

import numpy as np

from csmri.backend import squared_norms
from csmri.regularizers import Regularizer
from csmri.solvers import kernels
from csmri.solvers.data import CartesianData
from csmri.solvers.history import History, check_finite, relative_change_from_norms
from csmri.solvers.proximal_gradient import Callback

BALANCE_EVERY = 5
BALANCE_MU = 10.0
BALANCE_TAU = 2.0


def default_rho(reg: Regularizer, lam: float) -> float:
    """The starting penalty (see the module docstring)."""
    if reg.gram_kspace is None:
        return 1.0
    return float(np.clip(10.0 * lam, 1e-3, 1.0))


def _norms(w: np.ndarray, slice_axis: int) -> np.ndarray:
    return np.sqrt(squared_norms(w, slice_axis))


def admm(
    data: CartesianData,
    reg: Regularizer,
    lam: float,
    max_iter: int = 100,
    tol: float = 0.0,
    rho: float | None = None,
    adaptive: bool = True,
    callback: Callback | None = None,
) -> tuple[np.ndarray, list[History]]:
    """Solve ``min 1/2||M F x - y||^2 + lam ||K x||`` by ADMM on a batch of slices.

    Parameters
    ----------
    data : CartesianData
        Data term for ``S`` slices (normalised units).
    reg : Regularizer
        TV or wavelet regulariser (its ``K``, ``K^H``, shrinkage and spectrum).
    lam : float
        Regularisation weight (>= 0).
    max_iter : int
        Maximum iterations.
    tol : float
        Stop a slice when its relative change in ``x`` and its relative primal
        and dual residuals are all below ``tol`` (0 runs ``max_iter`` iterations).
    rho : float, optional
        Starting penalty; :func:`default_rho` when omitted.
    adaptive : bool
        Residual balancing of rho.
    callback : callable, optional
        ``callback(iteration, slice_indices, objective, images)`` after each iteration
        (``images``: the current iterates of the active slices, normalised units).

    Returns
    -------
    images : ndarray of complex64, shape (S, H, W)
        Solutions in normalised units.
    histories : list of History
        One per slice, with primal/dual residuals and rho.
    """
    n_slices = data.y.shape[0]
    histories = [History() for _ in range(n_slices)]
    result = np.empty(data.y.shape, dtype=np.complex64)
    active = np.arange(n_slices)
    y = data.y
    mask = data.mask
    gram = reg.gram_kspace
    ax = reg.slice_axis

    rho_s = np.full(n_slices, default_rho(reg, lam) if rho is None else float(rho))

    def denominator(rho_values: np.ndarray) -> np.ndarray:
        r = rho_values.astype(np.float32).reshape(-1, 1, 1)
        den = mask + r * (gram if gram is not None else np.float32(1.0))
        # 0 where unsampled and unpenalised: that frequency is set to zero.
        return np.where(den > 0, 1.0 / np.where(den > 0, den, 1.0), 0.0).astype(np.float32)

    def bshape(values: np.ndarray) -> np.ndarray:
        shape = [1] * (4 if ax == 1 else 3)
        shape[ax] = -1
        return values.astype(np.float32).reshape(shape)

    inv_den = denominator(rho_s)
    x = reg.to_variable(data.zero_filled(y))
    z = reg.analysis(x)
    u = np.zeros_like(z)
    b, _ = reg.admm_synthesis(z, u, z)  # K^H (z - u), the next x-update's input
    k_prev = y.copy()  # F crop(x0) = F F^H y = y
    first: np.ndarray | None = None
    for it in range(1, max_iter + 1):
        start = time.perf_counter()
        k = data.forward_full(reg.to_image(b))
        data_term, diff_sq, new_sq = kernels.admm_kspace_update(
            k, k_prev, y, mask, rho_s.astype(np.float32), inv_den
        )
        x_new = b  # the pad (wavelets) keeps K^H (z - u); the image part is replaced
        if reg.to_image(x_new) is x_new:
            x_new = data.backend.ifft2(k)
        else:
            reg.to_image(x_new)[...] = data.backend.ifft2(k)
        z_new, reg_value, primal_sq = reg.admm_update(x_new, z, u, lam / rho_s)
        objective = data_term + lam * reg_value
        b, dual_sq = reg.admm_synthesis(z_new, u, z)
        primal = np.sqrt(primal_sq)
        dual = rho_s * np.sqrt(dual_sq)
        change = relative_change_from_norms(diff_sq, new_sq)  # of the image, by Parseval
        x, z, k_prev = x_new, z_new, k
        elapsed = time.perf_counter() - start

        if first is None:
            first = objective.copy()
        check_finite(objective, first, it, "admm")
        for j, s in enumerate(active):
            h = histories[s]
            h.objective.append(float(objective[j]))
            h.relative_change.append(float(change[j]))
            h.primal_residual.append(float(primal[j]))
            h.dual_residual.append(float(dual[j]))
            h.rho.append(float(rho_s[j]))
            h.time.append(elapsed)
        if callback is not None:
            callback(it, active.copy(), objective.copy(), reg.to_image(x))

        if adaptive and it % BALANCE_EVERY == 0:
            up = primal > BALANCE_MU * dual
            down = dual > BALANCE_MU * primal
            if up.any() or down.any():
                factor = np.where(up, BALANCE_TAU, np.where(down, 1.0 / BALANCE_TAU, 1.0))
                rho_s = rho_s * factor
                u *= bshape(1.0 / factor)
                inv_den = denominator(rho_s)
                b, _ = reg.admm_synthesis(z, u, z)  # u changed: recompute K^H (z - u)

        if tol > 0:
            scale_p = np.maximum(np.maximum(_norms(reg.analysis(x), ax), _norms(z, ax)), 1e-30)
            orthogonal = reg.gram_kspace is None  # K^H K = I: ||K^H u|| = ||u||
            synthesised_u = _norms(u, ax) if orthogonal else _norms(reg.synthesis(u), 0)
            scale_d = np.maximum(rho_s * synthesised_u, 1e-30)
            converged = (change < tol) & (primal / scale_p < tol) & (dual / scale_d < tol)
        else:
            converged = np.zeros(len(active), dtype=bool)
        done = converged | (it == max_iter)
        if done.any():
            result[active[done]] = reg.to_image(x[done])
            for s in active[converged]:
                histories[s].converged = True
            keep = np.flatnonzero(~done)
            if keep.size == 0:
                break
            active, x, y, rho_s = active[keep], x[keep], y[keep], rho_s[keep]
            b, k_prev = b[keep], k_prev[keep]
            z, u = np.take(z, keep, axis=ax), np.take(u, keep, axis=ax)
            first = first[keep]
            inv_den = inv_den[keep]
            reg.keep(keep)
    return result, histories
