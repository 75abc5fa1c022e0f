"""Batched conjugate gradients for Hermitian positive definite systems, one per slice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from csmri.arrays import is_torch
from csmri.solvers.norms import squared_norms, to_numpy


def _dots(a: Any, b: Any) -> Any:
    """``Re <a_s, b_s>`` per slice, shaped ``(S, 1, ..., 1)`` to scale slices (array's kind)."""
    product = (a.conj() * b).real
    axes = tuple(range(1, len(a.shape)))
    if is_torch(a):
        return product.sum(dim=axes, keepdim=True)
    return product.sum(axis=axes, keepdims=True, dtype=np.float64)


def _ratio(num: Any, den: Any) -> Any:
    """``num / den`` where ``den > 0``, else 0 (a slice that is already solved)."""
    if is_torch(num):
        import torch

        safe = torch.where(den > 0, den, torch.ones_like(den))
        return torch.where(den > 0, num / safe, torch.zeros_like(num))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _real(values: Any, like: Any) -> Any:
    """Per-slice scalars in ``like``'s real precision (NumPy would otherwise upcast)."""
    return values if is_torch(values) else values.astype(like.real.dtype)


def conjugate_gradient(
    apply: Callable[[Any], Any],
    b: Any,
    x0: Any,
    tol: float = 1e-4,
    max_iter: int = 20,
    precondition: Callable[[Any], Any] | None = None,
) -> tuple[Any, np.ndarray]:
    """Solve ``M x = b`` per slice by CG, starting at ``x0`` (warm start).

    Parameters
    ----------
    apply : callable
        ``x -> M x`` for a Hermitian positive definite ``M`` acting per slice.
    b, x0 : ndarray or torch.Tensor, shape (S, ...)
        Right-hand side and starting point.
    tol : float
        Stop when every slice's relative residual ``||b - M x|| / ||b||`` is below it.
    max_iter : int
        Most iterations.
    precondition : callable, optional
        ``r -> P r`` for a Hermitian positive definite ``P ~ M^-1`` per slice
        (preconditioned CG); the stopping rule stays on the residual of ``M x = b``.

    Returns
    -------
    x : array, shape like ``b``
        The solution (on torch, differentiable through the iterations run).
    residual : ndarray of float64, shape (S,)
        The final relative residual of each slice, reported to the caller.
    """
    if precondition is not None:
        return _preconditioned(apply, b, x0, tol, max_iter, precondition)
    x = x0
    r = b - apply(x)
    p = r
    b_norm = np.sqrt(np.maximum(squared_norms(b), np.finfo(np.float64).tiny))
    rs = _dots(r, r)
    for _ in range(max_iter):
        if np.all(np.sqrt(to_numpy(rs).ravel()) / b_norm <= tol):
            break
        ap = apply(p)
        alpha = _real(_ratio(rs, _dots(p, ap)), b)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = _dots(r, r)
        p = r + _real(_ratio(rs_new, rs), b) * p
        rs = rs_new
    return x, np.sqrt(to_numpy(rs).ravel()) / b_norm


def _preconditioned(
    apply: Callable[[Any], Any],
    b: Any,
    x: Any,
    tol: float,
    max_iter: int,
    precondition: Callable[[Any], Any],
) -> tuple[Any, np.ndarray]:
    """Preconditioned CG (as :func:`conjugate_gradient`, with ``z = P r``)."""
    r = b - apply(x)
    z = precondition(r)
    p = z
    b_norm = np.sqrt(np.maximum(squared_norms(b), np.finfo(np.float64).tiny))
    rz = _dots(r, z)
    for _ in range(max_iter):
        if np.all(np.sqrt(squared_norms(r)) / b_norm <= tol):
            break
        ap = apply(p)
        alpha = _real(_ratio(rz, _dots(p, ap)), b)
        x = x + alpha * p
        r = r - alpha * ap
        z = precondition(r)
        rz_new = _dots(r, z)
        p = z + _real(_ratio(rz_new, rz), b) * p
        rz = rz_new
    return x, np.sqrt(squared_norms(r)) / b_norm
