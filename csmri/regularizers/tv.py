"""Total variation on circular finite differences of complex images, and its prox.

``D x = (x[i+1, j] - x[i, j], x[i, j+1] - x[i, j])`` with circular (periodic)
boundaries, stacked on a new leading axis of length 2.  Circular differences are
diagonalised by the 2-D FFT, which makes the ADMM x-update exact (see
:func:`gram_eigenvalues`).

* isotropic TV (BART's ``-R T``): ``sum_p sqrt(|Dv x|_p^2 + |Dh x|_p^2)``;
* anisotropic TV (SigPy's ``TotalVariationRecon``): ``sum_p |Dv x|_p + |Dh x|_p``;

where ``|.|`` is the complex modulus.  :func:`tv_prox` solves
``argmin_x 1/2 ||x - v||^2 + mu TV(x)`` with Beck and Teboulle's fast gradient
projection (FGP) on the dual, and can be warm-started with the previous dual.

:func:`gradient`, :func:`divergence_adjoint` and :func:`magnitude` are the plain
NumPy definitions (any shape and dtype); the norms, the shrinkage and the prox
run on the fused Numba kernels of :mod:`csmri.regularizers.tv_kernels`, which
the tests check against these definitions.
"""

from __future__ import annotations

import math

import numpy as np

from csmri.defaults import DEFAULT_TV_ITER
from csmri.errors import UsageError
from csmri.kernel import per_image_thresholds
from csmri.regularizers import tv_kernels

_LIPSCHITZ_DDH = 8.0
"""``||D||^2 <= 8`` for 2-D forward differences (equality for even sizes)."""


def _complex(a: np.ndarray) -> np.ndarray:
    """C-contiguous complex array: ``complex64`` for single precision, else ``complex128``."""
    a = np.asarray(a)
    single = a.dtype in (np.float32, np.complex64)
    return np.ascontiguousarray(a, dtype=np.complex64 if single else np.complex128)


def _images(x: np.ndarray) -> np.ndarray:
    """Images ``(..., H, W)`` as a complex ``(S, H, W)`` array (a view when possible)."""
    x = _complex(x)
    return x.reshape(-1, *x.shape[-2:])


def _fields(w: np.ndarray) -> np.ndarray:
    """Gradient fields ``(2, ..., H, W)`` as a complex ``(2, S, H, W)`` array."""
    w = _complex(w)
    return w.reshape(2, -1, *w.shape[-2:])


def real_view(a: np.ndarray) -> np.ndarray:
    """The interleaved real view the kernels work on."""
    return a.view(a.real.dtype)


def gradient(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Circular forward differences ``D x`` over the last two axes.

    Parameters
    ----------
    x : ndarray, shape (..., H, W)
        Image(s).
    out : ndarray, shape (2, ..., H, W), optional
        Buffer for the result (avoids an allocation in inner loops).

    Returns
    -------
    ndarray, shape (2, ..., H, W)
        ``[vertical, horizontal]`` differences.
    """
    if out is None:
        out = np.empty((2, *x.shape), dtype=x.dtype)
    # Slices instead of np.roll: no temporary copies of x.
    np.subtract(x[..., 1:, :], x[..., :-1, :], out=out[0][..., :-1, :])
    np.subtract(x[..., 0, :], x[..., -1, :], out=out[0][..., -1, :])
    np.subtract(x[..., :, 1:], x[..., :, :-1], out=out[1][..., :, :-1])
    np.subtract(x[..., :, 0], x[..., :, -1], out=out[1][..., :, -1])
    return out


def divergence_adjoint(p: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Adjoint ``D^H p`` of :func:`gradient` (minus the circular divergence).

    Parameters
    ----------
    p : ndarray, shape (2, ..., H, W)
        Dual field.
    out : ndarray, shape (..., H, W), optional
        Buffer for the result.

    Returns
    -------
    ndarray, shape (..., H, W)
        ``D^H p``.
    """
    p0, p1 = p[0], p[1]
    if out is None:
        out = np.empty(p0.shape, dtype=p.dtype)
    np.subtract(p0[..., :-1, :], p0[..., 1:, :], out=out[..., 1:, :])
    np.subtract(p0[..., -1, :], p0[..., 0, :], out=out[..., 0, :])
    out[..., :, 1:] += p1[..., :, :-1]
    out[..., :, 0] += p1[..., :, -1]
    out -= p1
    return out


def magnitude(w: np.ndarray, isotropic: bool) -> np.ndarray:
    """Pointwise magnitude of a gradient field: joint (isotropic) or per component.

    Parameters
    ----------
    w : ndarray, shape (2, ..., H, W)
        Gradient field.
    isotropic : bool
        Joint l2 norm over the two components, else the modulus of each.

    Returns
    -------
    ndarray of float
        Shape ``(..., H, W)`` when isotropic, else ``(2, ..., H, W)``.
    """
    if not w.flags.c_contiguous or w.dtype.kind != "c":
        sq = w.real**2 + w.imag**2
        return np.sqrt(sq[0] + sq[1]) if isotropic else np.sqrt(sq)
    # Squares through the interleaved real view: np.abs / np.hypot on complex take
    # overflow-safe slow paths that cost as much as an FFT here.
    parts = w.view(w.real.dtype)
    sq = parts * parts
    if isotropic:
        sq = np.add(sq[0], sq[1], out=sq[0])
    out = np.add(sq[..., 0::2], sq[..., 1::2])
    return np.sqrt(out, out=out)


def tv_norm(x: np.ndarray, isotropic: bool = True) -> np.ndarray:
    """Total variation of each image.

    Parameters
    ----------
    x : ndarray, shape (..., H, W)
        Complex image(s).
    isotropic : bool
        Isotropic (default) or anisotropic TV.

    Returns
    -------
    ndarray, shape (...)
        TV of each image (float64).
    """
    return tv_kernels.tv_value(real_view(_images(x)), isotropic).reshape(np.shape(x)[:-2])


def group_norm(w: np.ndarray, isotropic: bool) -> np.ndarray:
    """The mixed norm of a gradient field that defines TV (``l2,1`` or ``l1``).

    Parameters
    ----------
    w : ndarray, shape (2, ..., H, W)
        Gradient field.
    isotropic : bool
        Isotropic (l2 over components, l1 over pixels) or anisotropic (l1).

    Returns
    -------
    ndarray, shape (...)
        Norm of each image's field (float64).
    """
    fields = _fields(w)
    return tv_kernels.group_norm(real_view(fields), isotropic).reshape(np.shape(w)[1:-2])


def shrink(w: np.ndarray, threshold: float | np.ndarray, isotropic: bool) -> np.ndarray:
    """Prox of ``threshold * group_norm``: (group) complex soft-thresholding.

    Parameters
    ----------
    w : ndarray, shape (2, ..., H, W)
        Gradient field.
    threshold : float or ndarray
        Non-negative threshold, one value or one per image of the ``...`` axes.
    isotropic : bool
        Joint shrinkage of both components, else each component on its own.

    Returns
    -------
    ndarray, shape like ``w``
        ``w * max(1 - threshold / |w|, 0)``.
    """
    fields = _fields(w)
    out = np.empty_like(fields)
    thresholds = per_image_thresholds(threshold, fields.shape[1], fields.real.dtype)
    tv_kernels.shrink(real_view(fields), thresholds, isotropic, real_view(out))
    return out.reshape(np.shape(w))


def tv_prox(
    v: np.ndarray,
    mu: float,
    isotropic: bool = True,
    n_iter: int = DEFAULT_TV_ITER,
    p0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Prox of ``mu * TV`` by fast gradient projection on the dual (Beck-Teboulle FGP).

    Solves ``min_x 1/2 ||x - v||^2 + mu TV(x)`` through its dual
    ``min_{p in P} 1/2 ||v - mu D^H p||^2`` with ``x = v - mu D^H p``, where ``P``
    is the unit ball of the dual norm (pointwise l2 for isotropic TV, l-infinity
    for anisotropic).  The dual gradient is ``8 mu^2``-Lipschitz.

    Parameters
    ----------
    v : ndarray, shape (..., H, W)
        Point to project (complex).
    mu : float
        Threshold ``step * lambda`` (>= 0).
    isotropic : bool
        Isotropic (default) or anisotropic TV.
    n_iter : int
        FGP iterations.
    p0 : ndarray, shape (2, ..., H, W), optional
        Warm-start dual (e.g. from the previous outer iteration).

    Returns
    -------
    x : ndarray, shape like ``v``
        Approximate prox.
    p : ndarray, shape (2, ..., H, W)
        Final dual, for warm starts and :func:`tv_prox_gap`.
    """
    shape = np.shape(v)
    images = _images(v)
    dtype = images.real.dtype.type
    if p0 is None:
        p = np.zeros((2, *images.shape), dtype=images.dtype)
    else:
        p = np.array(_fields(p0), dtype=images.dtype, copy=True)
    if mu <= 0:
        return images.copy().reshape(shape), p.reshape(2, *shape)
    r = p.copy()
    r_next = np.empty_like(r)
    t = 1.0
    step = dtype(1.0 / (_LIPSCHITZ_DDH * mu))
    for _ in range(n_iter):
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        # p <- proj(r + step D (v - mu D^H r)); r <- p + (t - 1) / t_new * (p - p_previous)
        tv_kernels.fgp_step(
            real_view(images),
            real_view(r),
            real_view(r_next),
            real_view(p),
            dtype(mu),
            step,
            dtype((t - 1.0) / t_new),
            isotropic,
        )
        r, r_next = r_next, r
        t = t_new
    x = np.empty_like(images)
    tv_kernels.fgp_primal(real_view(images), real_view(p), dtype(mu), real_view(x))
    return x.reshape(shape), p.reshape(2, *shape)


def tv_prox_gap(v: np.ndarray, mu: float, p: np.ndarray, isotropic: bool = True) -> np.ndarray:
    """Duality gap of a TV-prox dual ``p``, per image (an upper bound on the primal error).

    With ``x = v - mu D^H p`` and feasible ``p``, the gap
    ``1/2||x - v||^2 + mu TV(x) - (1/2||v||^2 - 1/2||x||^2) >= 0`` bounds
    ``1/2 ||x - x*||^2`` (the primal objective is 1-strongly convex).

    Parameters
    ----------
    v : ndarray, shape (..., H, W)
        Prox input.
    mu : float
        Threshold.
    p : ndarray, shape (2, ..., H, W)
        Feasible dual.
    isotropic : bool
        TV flavour.

    Returns
    -------
    ndarray, shape (...)
        Duality gap of each image.
    """
    x = v - mu * divergence_adjoint(p)
    axes = (-2, -1)
    primal = 0.5 * np.sum(np.abs(x - v) ** 2, axis=axes, dtype=np.float64) + mu * tv_norm(
        x, isotropic
    )
    dual = 0.5 * np.sum(np.abs(v) ** 2, axis=axes, dtype=np.float64) - 0.5 * np.sum(
        np.abs(x) ** 2, axis=axes, dtype=np.float64
    )
    return primal - dual


def gram_eigenvalues(shape: tuple[int, int], dtype: type = np.float32) -> np.ndarray:
    """Eigenvalues of ``D^H D`` in the uncentred orthonormal FFT basis.

    ``D^H D = F^H diag(4 sin^2(pi k / H) + 4 sin^2(pi l / W)) F`` for circular
    differences, so ``(A^H A + rho D^H D)`` is diagonal in k-space when ``A`` is
    a masked FFT.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    dtype : type
        Output dtype.

    Returns
    -------
    ndarray, shape (H, W)
        Non-negative eigenvalues, zero frequency at index ``(0, 0)``.
    """
    h, w = shape
    ev = 4.0 * np.sin(np.pi * np.arange(h) / h) ** 2
    eh = 4.0 * np.sin(np.pi * np.arange(w) / w) ** 2
    return (ev[:, None] + eh[None, :]).astype(dtype)


def check_tv_kind(kind: str) -> bool:
    """Map a TV kind name to ``isotropic``; raise :class:`UsageError` otherwise.

    Parameters
    ----------
    kind : {"isotropic", "anisotropic"}
        TV flavour.

    Returns
    -------
    bool
        True for isotropic.
    """
    if kind not in ("isotropic", "anisotropic"):
        raise UsageError(f"unknown TV kind {kind!r}; choose isotropic or anisotropic")
    return kind == "isotropic"
