"""Numba kernels for total variation: one pass over memory per operation.

Images are C-contiguous ``(S, H, W)`` complex arrays and gradient fields
``(2, S, H, W)`` (vertical, horizontal differences), ``complex64`` or
``complex128``; the kernels take their real ``float`` views (``W`` complex
samples = ``2W`` floats, real and imaginary interleaved), so that every inner
loop is a contiguous, vectorisable loop over one image row.  Each kernel fuses
what NumPy would do in several passes with temporaries (a difference, a modulus,
a clip and a multiply become one sweep over the row); rows are shared among
threads with ``prange``.  Per-slice sums are accumulated in float64 per row and
added in row order, so results do not depend on the number of threads.

``iso`` selects isotropic TV (joint modulus of the two components) or
anisotropic TV (each component on its own).  Use them through
:mod:`csmri.regularizers.tv`, which checks shapes and makes the views.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from csmri.kernel import parallel_kernel


@nb.njit(cache=True, inline="always")
def _horizontal_difference(row: np.ndarray, out: np.ndarray) -> None:
    """``out[j] = row[j + 1] - row[j]`` (circular) on an interleaved complex row."""
    n = row.shape[0]
    nxt, cur, dst = row[2:], row[: n - 2], out[: n - 2]
    for q in range(n - 2):
        dst[q] = nxt[q] - cur[q]
    out[n - 2] = row[0] - row[n - 2]
    out[n - 1] = row[1] - row[n - 1]


@nb.njit(cache=True, inline="always")
def _row_gradient(row: np.ndarray, below: np.ndarray, gv: np.ndarray, gh: np.ndarray) -> None:
    """One row of ``D x``: ``gv = x[i+1] - x[i]``, ``gh = x[:, j+1] - x[:, j]`` (circular)."""
    for q in range(row.shape[0]):
        gv[q] = below[q] - row[q]
    _horizontal_difference(row, gh)


@nb.njit(cache=True, inline="always")
def _adjoint_row(p0: np.ndarray, p0_above: np.ndarray, p1: np.ndarray, out: np.ndarray) -> None:
    """``out = (D^H p)`` on one row: ``p0[i-1] - p0[i] + p1[j-1] - p1[j]`` (circular)."""
    n = out.shape[0]
    out[0] = p0_above[0] - p0[0] + p1[n - 2] - p1[0]
    out[1] = p0_above[1] - p0[1] + p1[n - 1] - p1[1]
    # Slices, not ``p1[q - 2]``: an index Numba cannot prove non-negative stops vectorisation.
    above, cur, left, right, dst = p0_above[2:], p0[2:], p1[: n - 2], p1[2:], out[2:]
    for q in range(n - 2):
        dst[q] = above[q] - cur[q] + left[q] - right[q]


@nb.njit(cache=True, inline="always")
def _moduli(a: np.ndarray, b: np.ndarray, iso: bool, ma: np.ndarray, mb: np.ndarray) -> None:
    """Pointwise moduli of an interleaved row pair: joint into ``ma`` (iso), else each."""
    # Two loops rather than a branch inside one: the branch would stop vectorisation.
    if iso:
        for j in range(ma.shape[0]):
            ma[j] = np.sqrt(
                a[2 * j] * a[2 * j]
                + a[2 * j + 1] * a[2 * j + 1]
                + b[2 * j] * b[2 * j]
                + b[2 * j + 1] * b[2 * j + 1]
            )
    else:
        for j in range(ma.shape[0]):
            ma[j] = np.sqrt(a[2 * j] * a[2 * j] + a[2 * j + 1] * a[2 * j + 1])
            mb[j] = np.sqrt(b[2 * j] * b[2 * j] + b[2 * j + 1] * b[2 * j + 1])


@nb.njit(cache=True, fastmath={"reassoc"})
def _sum(a: np.ndarray) -> float:
    """Sum in float64, reassociated so that it vectorises (the order is fixed per machine)."""
    total = 0.0
    for q in range(a.shape[0]):
        total += a[q]
    return total


@nb.njit(cache=True, fastmath={"reassoc"})
def _sum_squares(a: np.ndarray) -> float:
    """Sum of squares in float64, vectorised like :func:`_sum`."""
    total = 0.0
    for q in range(a.shape[0]):
        total += a[q] * a[q]
    return total


@nb.njit(cache=True, inline="always")
def _row_norm(ma: np.ndarray, mb: np.ndarray, iso: bool) -> float:
    return _sum(ma) if iso else _sum(ma) + _sum(mb)


@nb.njit(cache=True, inline="always")
def _shrink_factors(m: np.ndarray, thresh: float, tiny: float) -> None:
    """``m <- max(m - thresh, 0) / m``: the soft-thresholding factor of each modulus.

    ``tiny`` (the smallest normal number) guards ``0 / 0``; the numerator is 0
    whenever ``m < tiny``.  Written without a branch, so that it vectorises.
    """
    zero = tiny - tiny
    for j in range(m.shape[0]):
        v = m[j]
        m[j] = max(v - thresh, zero) / max(v, tiny)


@nb.njit(cache=True, inline="always")
def _projection_factors(m: np.ndarray, one: float) -> None:
    """``m <- 1 / max(m, 1)``: the factor that projects each modulus onto the unit ball."""
    for j in range(m.shape[0]):
        m[j] = one / max(m[j], one)


@nb.njit(cache=True, inline="always")
def _scale_pairs(a: np.ndarray, f: np.ndarray) -> None:
    """``a[2j], a[2j+1] *= f[j]``: scale interleaved complex samples by real factors."""
    for j in range(f.shape[0]):
        a[2 * j] *= f[j]
        a[2 * j + 1] *= f[j]


@parallel_kernel()
def group_norm(g: np.ndarray, iso: bool) -> np.ndarray:
    """Per-slice ``sum sqrt(|g0|^2 + |g1|^2)`` (iso) or ``sum |g0| + |g1|`` (float64)."""
    _, n_slices, h, w2 = g.shape
    rows = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        ma = np.empty(w2 // 2, dtype=g.dtype)
        mb = np.empty(w2 // 2, dtype=g.dtype)
        _moduli(g[0, s, i], g[1, s, i], iso, ma, mb)
        rows[t] = _row_norm(ma, mb, iso)
    return rows.reshape(n_slices, h).sum(axis=1)


@parallel_kernel()
def tv_value(x: np.ndarray, iso: bool) -> np.ndarray:
    """Per-slice TV of ``x`` (float64), without storing the gradient."""
    n_slices, h, w2 = x.shape
    rows = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        row = x[s, i]
        below = x[s, i + 1 if i + 1 < h else 0]
        gv = np.empty(w2, dtype=x.dtype)
        gh = np.empty(w2, dtype=x.dtype)
        _row_gradient(row, below, gv, gh)
        ma = np.empty(w2 // 2, dtype=x.dtype)
        mb = np.empty(w2 // 2, dtype=x.dtype)
        _moduli(gv, gh, iso, ma, mb)
        rows[t] = _row_norm(ma, mb, iso)
    return rows.reshape(n_slices, h).sum(axis=1)


@parallel_kernel()
def shrink(g: np.ndarray, thresh: np.ndarray, iso: bool, out: np.ndarray) -> None:
    """``out = g * max(1 - thresh[s] / |g|, 0)``: (group) soft-thresholding, per-slice threshold."""
    _, n_slices, h, w2 = g.shape
    tiny = np.finfo(g.dtype).tiny
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        th = thresh[s]
        a = out[0, s, i]
        b = out[1, s, i]
        a[:] = g[0, s, i]
        b[:] = g[1, s, i]
        ma = np.empty(w2 // 2, dtype=g.dtype)
        mb = np.empty(w2 // 2, dtype=g.dtype)
        _moduli(a, b, iso, ma, mb)
        _shrink_factors(ma, th, tiny)
        if not iso:
            _shrink_factors(mb, th, tiny)
        _scale_pairs(a, ma)
        _scale_pairs(b, ma if iso else mb)


@nb.njit(cache=True, inline="always")
def _primal_row(
    v: np.ndarray, r0: np.ndarray, r0_above: np.ndarray, r1: np.ndarray, mu: float, out: np.ndarray
) -> None:
    """One row of ``v - mu D^H r``."""
    _adjoint_row(r0, r0_above, r1, out)
    for q in range(out.shape[0]):
        out[q] = v[q] - mu * out[q]


@parallel_kernel()
def fgp_primal(v: np.ndarray, r: np.ndarray, mu: float, out: np.ndarray) -> None:
    """``out = v - mu D^H r`` (the primal point of a TV-prox dual)."""
    _, n_slices, h, _ = r.shape
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        above = i - 1 if i > 0 else h - 1
        _primal_row(v[s, i], r[0, s, i], r[0, s, above], r[1, s, i], mu, out[s, i])


@parallel_kernel()
def fgp_step(
    v: np.ndarray,
    r: np.ndarray,
    r_next: np.ndarray,
    p: np.ndarray,
    mu: float,
    step: float,
    beta: float,
    iso: bool,
) -> None:
    """One FGP iteration: ``g = proj(r + step D (v - mu D^H r))``, ``r_next = g + beta (g - p)``.

    ``p`` (the previous dual) becomes ``g``.
    ``proj`` is the projection onto the unit ball of the dual norm: the pointwise
    joint l2 ball (iso) or ``|.| <= 1`` per component.  The primal point
    ``x = v - mu D^H r`` is recomputed for rows ``i`` and ``i + 1`` instead of
    being stored, so one sweep does the whole iteration; ``r`` and ``r_next``
    must be distinct arrays, ``p`` is updated in place.
    """
    n_slices, h, w2 = v.shape
    one = np.ones(1, dtype=v.dtype)[0]
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        below = i + 1 if i + 1 < h else 0
        above = i - 1 if i > 0 else h - 1
        x = np.empty(w2, dtype=v.dtype)
        x_below = np.empty(w2, dtype=v.dtype)
        _primal_row(v[s, i], r[0, s, i], r[0, s, above], r[1, s, i], mu, x)
        _primal_row(v[s, below], r[0, s, below], r[0, s, i], r[1, s, below], mu, x_below)
        a = r_next[0, s, i]
        b = r_next[1, s, i]
        _horizontal_difference(x, b)
        r0 = r[0, s, i]
        r1 = r[1, s, i]
        for q in range(w2):
            a[q] = r0[q] + step * (x_below[q] - x[q])
            b[q] = r1[q] + step * b[q]
        ma = np.empty(w2 // 2, dtype=v.dtype)
        mb = np.empty(w2 // 2, dtype=v.dtype)
        _moduli(a, b, iso, ma, mb)
        _projection_factors(ma, one)
        if not iso:
            _projection_factors(mb, one)
        _scale_pairs(a, ma)
        _scale_pairs(b, ma if iso else mb)
        p0 = p[0, s, i]
        p1 = p[1, s, i]
        for q in range(w2):
            ga = a[q]
            gb = b[q]
            a[q] = ga + beta * (ga - p0[q])
            b[q] = gb + beta * (gb - p1[q])
            p0[q] = ga
            p1[q] = gb


@nb.njit(cache=True, inline="always")
def _weighted_shrink_factors(
    m: np.ndarray, thresh: float, weights: np.ndarray, tiny: float
) -> None:
    """``m <- max(m - thresh w, 0) / m`` with a weight ``w[j]`` per modulus."""
    zero = tiny - tiny
    for j in range(m.shape[0]):
        v = m[j]
        m[j] = max(v - thresh * weights[j], zero) / max(v, tiny)


LOG_BLOCK = 16
"""Factors multiplied before one logarithm in :func:`row_log_penalty`."""


@nb.njit(cache=True, inline="always")
def row_log_penalty(m: np.ndarray, eps: float) -> float:
    """``eps sum_j log(1 + m_j / eps)`` in float64.

    One ``log`` of a float64 product per block of :data:`LOG_BLOCK` factors: a
    ``log1p`` per pixel cost 2.7 ms at 320 x 320 (Numba has no vector ``log`` here),
    three times the rest of the update.  A block whose product overflows (gradients
    beyond ``1e18 eps``) is summed term by term.
    """
    inv = 1.0 / eps
    total = 0.0
    n = m.shape[0]
    for start in range(0, n, LOG_BLOCK):
        stop = min(start + LOG_BLOCK, n)
        product = 1.0
        for j in range(start, stop):
            product *= 1.0 + m[j] * inv
        if product < np.inf:
            total += np.log(product)
        else:
            for j in range(start, stop):
                total += np.log1p(m[j] * inv)
    return eps * total


@parallel_kernel()
def admm_z_update(
    x: np.ndarray,
    u: np.ndarray,
    z: np.ndarray,
    thresh: np.ndarray,
    iso: bool,
    weights: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """ADMM TV z- and u-update in place: ``w = D x``, ``z = shrink(w + u)``, ``u += w - z``.

    ``weights`` ``(S, H, W)`` (isotropic only) scale each pixel's threshold; an empty
    ``(0, 0, 0)`` array means none.  With ``eps > 0`` the returned value is the log
    penalty ``eps sum log(1 + |w| / eps)`` of :mod:`csmri.regularizers.reweighted`
    instead of the group norm.

    Returns
    -------
    value : ndarray of float64, shape (S,)
        TV of ``x`` (the group norm of ``w``) or its log penalty, for the objective.
    primal_sq : ndarray of float64, shape (S,)
        ``||w - z||^2``, the squared primal residual.
    """
    n_slices, h, w2 = x.shape
    tiny = np.finfo(x.dtype).tiny
    weighted = weights.shape[0] > 0
    tv_rows = np.zeros(n_slices * h)
    primal_rows = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        row = x[s, i]
        below = x[s, i + 1 if i + 1 < h else 0]
        u0 = u[0, s, i]
        u1 = u[1, s, i]
        z0 = z[0, s, i]
        z1 = z[1, s, i]
        wv = np.empty(w2, dtype=x.dtype)
        wh = np.empty(w2, dtype=x.dtype)
        _row_gradient(row, below, wv, wh)
        ma = np.empty(w2 // 2, dtype=x.dtype)
        mb = np.empty(w2 // 2, dtype=x.dtype)
        _moduli(wv, wh, iso, ma, mb)
        tv_rows[t] = row_log_penalty(ma, eps) if eps > 0 else _row_norm(ma, mb, iso)
        for q in range(w2):
            z0[q] = wv[q] + u0[q]
            z1[q] = wh[q] + u1[q]
        _moduli(z0, z1, iso, ma, mb)
        if weighted:
            _weighted_shrink_factors(ma, thresh[s], weights[s, i], tiny)
        else:
            _shrink_factors(ma, thresh[s], tiny)
        if not iso:
            _shrink_factors(mb, thresh[s], tiny)
        _scale_pairs(z0, ma)
        _scale_pairs(z1, ma if iso else mb)
        for q in range(w2):
            wv[q] -= z0[q]
            wh[q] -= z1[q]
            u0[q] += wv[q]
            u1[q] += wh[q]
        primal_rows[t] = _sum_squares(wv) + _sum_squares(wh)
    return tv_rows.reshape(n_slices, h).sum(axis=1), primal_rows.reshape(n_slices, h).sum(axis=1)


@parallel_kernel()
def admm_synthesis(z: np.ndarray, u: np.ndarray, z_old: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = D^H (z - u)``; returns ``||D^H (z - z_old)||^2`` per slice (the dual residual)."""
    _, n_slices, h, w2 = z.shape
    dual_rows = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        i = t - s * h
        above = i - 1 if i > 0 else h - 1
        z0, z0a, z1 = z[0, s, i], z[0, s, above], z[1, s, i]
        u0, u0a, u1 = u[0, s, i], u[0, s, above], u[1, s, i]
        o0, o0a, o1 = z_old[0, s, i], z_old[0, s, above], z_old[1, s, i]
        d0 = np.empty(w2, dtype=z.dtype)
        d0a = np.empty(w2, dtype=z.dtype)
        d1 = np.empty(w2, dtype=z.dtype)
        for q in range(w2):
            d0[q] = z0[q] - u0[q]
            d0a[q] = z0a[q] - u0a[q]
            d1[q] = z1[q] - u1[q]
        _adjoint_row(d0, d0a, d1, out[s, i])
        for q in range(w2):
            d0[q] = z0[q] - o0[q]
            d0a[q] = z0a[q] - o0a[q]
            d1[q] = z1[q] - o1[q]
        dual = np.empty(w2, dtype=z.dtype)
        _adjoint_row(d0, d0a, d1, dual)
        dual_rows[t] = _sum_squares(dual)
    return dual_rows.reshape(n_slices, h).sum(axis=1)
