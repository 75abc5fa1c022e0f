"""Numba kernels for the solvers' per-iteration arithmetic (data term, norms, momentum).

Each kernel is one pass over ``(S, H, W)`` complex arrays that NumPy would do in
several passes with temporaries (``mask * k - y`` then a norm; a difference
then two norms and an inner product).  Rows are shared among threads with
``prange``; per-slice sums are accumulated in float64 per row and added in row
order, so results do not depend on the number of threads.  Sums are vectorised
(``fastmath`` reassociation only: no assumptions about NaN or infinity, so a
diverging solve still shows up as a non-finite objective).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from csmri.kernel import parallel_kernel

_REASSOC = {"reassoc"}
"""Let LLVM reorder the float64 sums so they vectorise (the order is still fixed per machine)."""


@nb.njit(cache=True, inline="always")
def _abs2(v: complex) -> float:
    return v.real * v.real + v.imag * v.imag


@parallel_kernel(fastmath=_REASSOC)
def data_value(k: np.ndarray, mask: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``1/2 ||mask * k - y||^2`` per slice (float64)."""
    n_slices, h, w = k.shape
    rows = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        kr, yr, mr = k[s, i], y[s, i], mask[i]
        total = 0.0
        for j in range(w):
            total += _abs2(mr[j] * kr[j] - yr[j])
        rows[t] = total
    return 0.5 * rows.reshape(n_slices, h).sum(axis=1)


@parallel_kernel()
def masked_residual(k: np.ndarray, mask: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``out = mask * k - y``."""
    n_slices, h, w = k.shape
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        kr, yr, mr, o = k[s, i], y[s, i], mask[i], out[s, i]
        for j in range(w):
            o[j] = mr[j] * kr[j] - yr[j]


@parallel_kernel()
def replace_sampled(k: np.ndarray, mask: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``out = (1 - mask) * k + y``: the spectrum after a unit gradient step (``y`` is masked)."""
    n_slices, h, w = k.shape
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        kr, yr, mr, o = k[s, i], y[s, i], mask[i], out[s, i]
        for j in range(w):
            o[j] = (1 - mr[j]) * kr[j] + yr[j]


@parallel_kernel(fastmath=_REASSOC)
def admm_kspace_update(
    k: np.ndarray,
    k_prev: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    rho: np.ndarray,
    inv_den: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ADMM x-update in k-space, in place: ``k = (rho_s k + y) * inv_den_s``.

    Parameters
    ----------
    k : ndarray, shape (S, H, W)
        ``F K^H (z - u)`` on entry, ``F x_new`` on return.
    k_prev : ndarray, shape (S, H, W)
        ``F x_old``, for the relative change (Parseval: equal to the image-domain norms).
    y, mask, rho, inv_den
        Masked data, 0/1 mask ``(H, W)``, per-slice penalty and ``1 / (M + rho Lambda)``.

    Returns
    -------
    data_term, diff_sq, new_sq : ndarray of float64, shape (S,)
        ``1/2 ||M k - y||^2``, ``||k - k_prev||^2`` and ``||k||^2`` of the new iterate.
    """
    n_slices, h, w = k.shape
    data_rows = np.zeros(n_slices * h)
    diff_rows = np.zeros(n_slices * h)
    new_rows = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        kr, pr, yr, mr, dr = k[s, i], k_prev[s, i], y[s, i], mask[i], inv_den[s, i]
        r = rho[s]
        data = 0.0
        diff = 0.0
        new = 0.0
        for j in range(w):
            v = (r * kr[j] + yr[j]) * dr[j]
            kr[j] = v
            data += _abs2(mr[j] * v - yr[j])
            diff += _abs2(v - pr[j])
            new += _abs2(v)
        data_rows[t] = data
        diff_rows[t] = diff
        new_rows[t] = new
    return (
        0.5 * data_rows.reshape(n_slices, h).sum(axis=1),
        diff_rows.reshape(n_slices, h).sum(axis=1),
        new_rows.reshape(n_slices, h).sum(axis=1),
    )


@parallel_kernel(fastmath=_REASSOC)
def step_stats(
    x_new: np.ndarray, x: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FISTA's per-slice scalars in one pass.

    Returns ``||x_new - x||^2``, ``||x_new||^2`` and ``Re <z - x_new, x_new - x>``
    (the gradient-restart test), each float64 of shape ``(S,)``.
    """
    n_slices, h, w = x_new.shape
    diff_rows = np.zeros(n_slices * h)
    new_rows = np.zeros(n_slices * h)
    inner_rows = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        a, b, c = x_new[s, i], x[s, i], z[s, i]
        d = 0.0
        n = 0.0
        inner = 0.0
        for j in range(w):
            step = a[j] - b[j]
            back = c[j] - a[j]
            d += _abs2(step)
            n += _abs2(a[j])
            inner += back.real * step.real + back.imag * step.imag
        diff_rows[t] = d
        new_rows[t] = n
        inner_rows[t] = inner
    return (
        diff_rows.reshape(n_slices, h).sum(axis=1),
        new_rows.reshape(n_slices, h).sum(axis=1),
        inner_rows.reshape(n_slices, h).sum(axis=1),
    )


@parallel_kernel()
def extrapolate(new: np.ndarray, old: np.ndarray, beta: np.ndarray, out: np.ndarray) -> None:
    """``out = new + beta_s (new - old)`` (FISTA's momentum point)."""
    n_slices, h, w = new.shape
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        a, b, o = new[s, i], old[s, i], out[s, i]
        f = beta[s]
        for j in range(w):
            o[j] = a[j] + f * (a[j] - b[j])
