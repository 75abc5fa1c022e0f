"""Fused Numba kernels of the TGV ADMM iteration (:mod:`csmri.solvers.tgv`).

The NumPy version of an iteration made about 40 passes over image-sized arrays
(``np.roll`` differences, stacks, group norms, residual norms); these kernels do
the same arithmetic in three passes, one per row of every slice:

* :func:`splits`: ``D x - w`` and ``E' w`` from the new ``(x, w)``, both group
  shrinkages, the dual updates and the per-slice sums (primal and dual residuals,
  the regulariser's value);
* :func:`right_hand_side`: ``rho (D^H (p - u), E'^H (q - v) - (p - u))``;
* :func:`kspace_solve`: the per-frequency 3 x 3 product with the inverse normal
  matrix, with the data term and the change of ``F x``.

Differences are circular: forward ``x[i+1] - x[i]`` for ``D``, backward
``x[i] - x[i-1]`` inside ``E'``, exactly as the NumPy reference of the tests.
Per-slice sums are accumulated per row in float64 and added in row order.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from csmri.kernel import parallel_kernel
from csmri.regularizers.tv_kernels import row_log_penalty
from csmri.solvers.kernels import _REASSOC, _abs2

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@parallel_kernel(fastmath=_REASSOC)
def splits(
    x: np.ndarray,
    w: np.ndarray,
    p: np.ndarray,
    q: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    thresholds: np.ndarray,
    ratio: float,
    weights: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shrink ``p = S(Dx - w + u)``, ``q = S(E'w + v)``; update ``u``, ``v``; all in place.

    Parameters
    ----------
    x : ndarray, shape (S, H, W)
        New image.
    w : ndarray, shape (2, S, H, W)
        New vector field.
    p, u : ndarray, shape (2, S, H, W)
        Split of ``D x - w`` and its scaled dual (overwritten).
    q, v : ndarray, shape (3, S, H, W)
        Split of ``E' w`` and its scaled dual (overwritten).
    thresholds : ndarray, shape (S,)
        ``lam / rho`` per slice; ``q``'s threshold is ``ratio`` times it.
    ratio : float
        ``alpha0 / alpha1``.
    weights : ndarray of float32, shape (2, S, H, W) or (0, 0, 0, 0)
        Per-pixel factors of the two thresholds (reweighted TGV); empty for none.
    eps : float
        With ``eps > 0`` the returned ``reg`` is the log penalty
        ``L(Dx - w) + L(ratio E'w)``, ``L(z) = eps sum log(1 + |z| / eps)``
        (:mod:`csmri.regularizers.reweighted`).

    Returns
    -------
    primal_sq, dual_change_sq, reg : ndarray of float64, shape (S,)
        ``||(Dx - w, E'w) - (p, q)||^2``, ``||(p, q) - (p_old, q_old)||^2`` and
        ``||Dx - w||_{2,1} + ratio ||E'w||_{2,1}`` (or its log penalty).
    """
    n_slices, h, width = x.shape
    last = width - 1
    weighted = weights.shape[0] > 0
    primal = np.zeros(n_slices * h)
    dual = np.zeros(n_slices * h)
    value = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        xc, xb = x[s, i], x[s, i + 1 if i + 1 < h else 0]
        w0, w1 = w[0, s, i], w[1, s, i]
        above = i - 1 if i > 0 else h - 1
        w0a, w1a = w[0, s, above], w[1, s, above]
        # The five field components of the row; the circular ends are set apart so that
        # every loop runs over contiguous memory without index wrapping.
        g = np.empty((5, width), dtype=xc.dtype)
        for j in range(width):
            g[0, j] = xb[j] - xc[j] - w0[j]
            g[2, j] = w0[j] - w0a[j]
        for j in range(last):
            g[1, j] = xc[j + 1] - xc[j] - w1[j]
        g[1, last] = xc[0] - xc[last] - w1[last]
        for j in range(1, width):
            g[3, j] = w1[j] - w1[j - 1]
            g[4, j] = ((w0[j] - w0[j - 1]) + (w1[j] - w1a[j])) * _INV_SQRT2
        g[3, 0] = w1[0] - w1[last]
        g[4, 0] = ((w0[0] - w0[last]) + (w1[0] - w1a[0])) * _INV_SQRT2
        t1 = thresholds[s]
        t2 = ratio * t1
        p0, p1, u0, u1 = p[0, s, i], p[1, s, i], u[0, s, i], u[1, s, i]
        q0, q1, q2 = q[0, s, i], q[1, s, i], q[2, s, i]
        v0, v1, v2 = v[0, s, i], v[1, s, i], v[2, s, i]
        # Shrinkage factors and the regulariser first (reads only), then the updates:
        # short loop bodies over few arrays, which the compiler vectorises.
        f = np.empty((2, width), dtype=np.float32)
        for j in range(width):  # the moduli of D x - w and ratio E'w, in f until shrinkage
            f[0, j] = math.sqrt(_abs2(g[0, j]) + _abs2(g[1, j]))
            f[1, j] = ratio * math.sqrt(_abs2(g[2, j]) + _abs2(g[3, j]) + _abs2(g[4, j]))
        if eps > 0:
            reg = row_log_penalty(f[0], eps) + row_log_penalty(f[1], eps)
        else:
            reg = 0.0
            for j in range(width):
                reg += f[0, j] + f[1, j]
        r = np.empty((2, width), dtype=np.float32)  # the thresholds of the row's pixels
        if weighted:
            for j in range(width):
                r[0, j] = t1 * weights[0, s, i, j]
                r[1, j] = t2 * weights[1, s, i, j]
        else:
            r[0, :] = t1
            r[1, :] = t2
        for j in range(width):
            norm = math.sqrt(_abs2(g[0, j] + u0[j]) + _abs2(g[1, j] + u1[j]))
            f[0, j] = 1.0 - r[0, j] / norm if norm > r[0, j] else 0.0
        for j in range(width):
            b0, b1, b2 = g[2, j] + v0[j], g[3, j] + v1[j], g[4, j] + v2[j]
            norm = math.sqrt(_abs2(b0) + _abs2(b1) + _abs2(b2))
            f[1, j] = 1.0 - r[1, j] / norm if norm > r[1, j] else 0.0
        pr = 0.0
        du = 0.0
        for c, (split, dual_var) in enumerate(((p0, u0), (p1, u1))):
            for j in range(width):
                a = g[c, j] + dual_var[j]
                n = a * f[0, j]
                du += _abs2(n - split[j])
                pr += _abs2(g[c, j] - n)
                dual_var[j] = a - n
                split[j] = n
        for c, (split, dual_var) in enumerate(((q0, v0), (q1, v1), (q2, v2))):
            for j in range(width):
                b = g[2 + c, j] + dual_var[j]
                m = b * f[1, j]
                du += _abs2(m - split[j])
                pr += _abs2(g[2 + c, j] - m)
                dual_var[j] = b - m
                split[j] = m
        primal[t] = pr
        dual[t] = du
        value[t] = reg
    return (
        primal.reshape(n_slices, h).sum(axis=1),
        dual.reshape(n_slices, h).sum(axis=1),
        value.reshape(n_slices, h).sum(axis=1),
    )


@nb.njit(cache=True, inline="always")
def _difference(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for j in range(out.shape[0]):
        out[j] = a[j] - b[j]


@parallel_kernel()
def right_hand_side(
    p: np.ndarray, q: np.ndarray, u: np.ndarray, v: np.ndarray, rho: float, out: np.ndarray
) -> np.ndarray:
    """``out = rho (D^H a, E'^H b - a)`` with ``a = p - u`` and ``b = q - v``.

    ``(D^H a)[i] = a[i-1] - a[i]`` per component; ``E'^H b`` is minus the forward
    differences ``(d_v b0 + d_h b2', d_h b1 + d_v b2')`` with ``b2' = b2 / sqrt 2``.

    Parameters
    ----------
    p, u : ndarray, shape (2, S, H, W)
        First-order split and dual.
    q, v : ndarray, shape (3, S, H, W)
        Second-order split and dual.
    rho : float
        ADMM penalty.
    out : ndarray, shape (3, S, H, W)
        Output (overwritten).

    Returns
    -------
    ndarray
        ``out``.
    """
    _, n_slices, h, width = p.shape
    last = width - 1
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        below = i + 1 if i + 1 < h else 0
        above = i - 1 if i > 0 else h - 1
        # a = p - u (this row, a0 of the row above), b = q - v (this row, the one below);
        # d[3] and d[6] become the vertical forward differences of b0 and b2 / sqrt 2.
        d = np.empty((7, width), dtype=p.dtype)
        _difference(p[0, s, i], u[0, s, i], d[0])
        _difference(p[1, s, i], u[1, s, i], d[1])
        _difference(p[0, s, above], u[0, s, above], d[2])
        _difference(q[0, s, below], v[0, s, below], d[3])
        _difference(q[1, s, i], v[1, s, i], d[4])
        _difference(q[2, s, i], v[2, s, i], d[5])
        _difference(q[2, s, below], v[2, s, below], d[6])
        b0 = q[0, s, i]
        v0 = v[0, s, i]
        for j in range(width):
            d[3, j] -= b0[j] - v0[j]
            d[5, j] *= _INV_SQRT2
            d[6, j] = d[6, j] * _INV_SQRT2 - d[5, j]
        o0, o1, o2 = out[0, s, i], out[1, s, i], out[2, s, i]
        for j in range(1, width):
            o0[j] = rho * ((d[2, j] - d[0, j]) + (d[1, j - 1] - d[1, j]))
        o0[0] = rho * ((d[2, 0] - d[0, 0]) + (d[1, last] - d[1, 0]))
        for j in range(last):
            o1[j] = rho * (-(d[3, j] + (d[5, j + 1] - d[5, j])) - d[0, j])
            o2[j] = rho * (-((d[4, j + 1] - d[4, j]) + d[6, j]) - d[1, j])
        o1[last] = rho * (-(d[3, last] + (d[5, 0] - d[5, last])) - d[0, last])
        o2[last] = rho * (-((d[4, 0] - d[4, last]) + d[6, last]) - d[1, last])
    return out


@parallel_kernel(fastmath=_REASSOC)
def kspace_solve(
    spectra: np.ndarray,
    inverse: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    k_prev: np.ndarray,
    out: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``out = N^-1 (spectra + (y, 0, 0))`` per frequency, with the data term and change of ``F x``.

    Parameters
    ----------
    spectra : ndarray, shape (3, S, H, W)
        FFT of the right-hand side without the data (uncentred).
    inverse : ndarray, shape (3, 3, H, W)
        Inverse normal matrix per frequency.
    y, k_prev : ndarray, shape (S, H, W)
        Measurements (uncentred, masked) and the previous ``F x``.
    mask : ndarray, shape (H, W)
        Uncentred mask (0 or 1).
    out : ndarray, shape (3, S, H, W)
        Spectra of ``(x, w_v, w_h)`` (overwritten).

    Returns
    -------
    data_term, change_sq, new_sq : ndarray of float64, shape (S,)
        ``1/2 ||M F x - y||^2``, ``||F x - k_prev||^2`` and ``||F x||^2``.
    """
    _, n_slices, h, width = spectra.shape
    data = np.zeros(n_slices * h)
    change = np.zeros(n_slices * h)
    size = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        r0, r1, r2 = spectra[0, s, i], spectra[1, s, i], spectra[2, s, i]
        o0, o1, o2 = out[0, s, i], out[1, s, i], out[2, s, i]
        m00, m01, m02 = inverse[0, 0, i], inverse[0, 1, i], inverse[0, 2, i]
        m10, m11, m12 = inverse[1, 0, i], inverse[1, 1, i], inverse[1, 2, i]
        m20, m21, m22 = inverse[2, 0, i], inverse[2, 1, i], inverse[2, 2, i]
        yr, mr, kp = y[s, i], mask[i], k_prev[s, i]
        d = 0.0
        c = 0.0
        n = 0.0
        for j in range(width):
            a = r0[j] + yr[j]
            b = r1[j]
            e = r2[j]
            k = m00[j] * a + m01[j] * b + m02[j] * e
            o0[j] = k
            o1[j] = m10[j] * a + m11[j] * b + m12[j] * e
            o2[j] = m20[j] * a + m21[j] * b + m22[j] * e
            d += _abs2(mr[j] * k - yr[j])
            c += _abs2(k - kp[j])
            n += _abs2(k)
        data[t] = d
        change[t] = c
        size[t] = n
    return (
        0.5 * data.reshape(n_slices, h).sum(axis=1),
        change.reshape(n_slices, h).sum(axis=1),
        size.reshape(n_slices, h).sum(axis=1),
    )
