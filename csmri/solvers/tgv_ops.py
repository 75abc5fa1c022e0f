"""TGV's operators on NumPy arrays and torch tensors alike (for :mod:`csmri.solvers.tgv_general`).

The definitions are those of :mod:`csmri.solvers.tgv` (circular forward differences
``D``, the symmetrised gradient ``E'`` from backward differences with the off-diagonal
entry times ``sqrt 2``), written with out-of-place operations so that they run on any
device and autograd flows through them; the FFTs are uncentred and orthonormal.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from csmri.arrays import is_torch
from csmri.regularizers import tv as _tv

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def _roll(a: Any, shift: int, axis: int) -> Any:
    if is_torch(a):
        import torch

        return torch.roll(a, shift, axis)
    return np.roll(a, shift, axis)


def stack(parts: list) -> Any:
    """Stack on a new leading axis (NumPy or torch)."""
    if is_torch(parts[0]):
        import torch

        return torch.stack(parts)
    return np.stack(parts)


def fft2(a: Any, backend: Any = None) -> Any:
    """Uncentred orthonormal 2-D FFT over the last two axes (``backend`` for NumPy)."""
    if is_torch(a):
        import torch

        return torch.fft.fft2(a, norm="ortho")
    return backend.fft2(a)


def ifft2(a: Any, backend: Any = None) -> Any:
    """Inverse of :func:`fft2`."""
    if is_torch(a):
        import torch

        return torch.fft.ifft2(a, norm="ortho")
    return backend.ifft2(a)


def gradient(x: Any) -> Any:
    """``D x``: circular forward differences ``(2, ..., H, W)``."""
    return stack([_roll(x, -1, -2) - x, _roll(x, -1, -1) - x])


def gradient_adjoint(p: Any) -> Any:
    """``D^H p``."""
    if is_torch(p):
        return (_roll(p[0], 1, -2) - p[0]) + (_roll(p[1], 1, -1) - p[1])
    return _tv.divergence_adjoint(p)


def _backward(a: Any, axis: int) -> Any:
    return a - _roll(a, 1, axis)


def _forward(a: Any, axis: int) -> Any:
    return _roll(a, -1, axis) - a


def sym_grad(w: Any) -> Any:
    """``E' w = (D-_v w_v, D-_h w_h, (D-_h w_v + D-_v w_h) / sqrt 2)``, shape (3, ...)."""
    off = (_backward(w[0], -1) + _backward(w[1], -2)) * _INV_SQRT2
    return stack([_backward(w[0], -2), _backward(w[1], -1), off])


def sym_grad_adjoint(q: Any) -> Any:
    """``E'^H q`` (``(D-)^H = -D+``), shape (2, ...)."""
    off = q[2] * _INV_SQRT2
    return -stack([_forward(q[0], -2) + _forward(off, -1), _forward(q[1], -1) + _forward(off, -2)])


def group_norms(field: Any) -> Any:
    """Pointwise Euclidean norm over the leading component axis (real)."""
    squares = field.real**2 + field.imag**2
    return (squares.sum(0) if is_torch(field) else np.sum(squares, axis=0)) ** 0.5


def shrink(field: Any, threshold: Any) -> Any:
    """Group soft-thresholding over the leading axis; ``threshold`` broadcasts to ``(S, H, W)``."""
    norms = group_norms(field)
    if is_torch(field):
        import torch

        safe = torch.clamp(norms, min=torch.finfo(norms.dtype).tiny)
        return field * torch.clamp(1.0 - threshold / safe, min=0.0)
    safe = np.maximum(norms, np.finfo(norms.dtype).tiny)
    return field * np.maximum(1.0 - threshold / safe, 0.0).astype(norms.dtype)


def zeros(shape: tuple[int, ...], like: Any) -> Any:
    """Zeros of ``like``'s kind, dtype and device."""
    if is_torch(like):
        import torch

        return torch.zeros(shape, dtype=like.dtype, device=like.device)
    return np.zeros(shape, dtype=like.dtype)


def take(a: Any, index: np.ndarray, axis: int) -> Any:
    """The entries ``index`` along ``axis`` (a contiguous copy)."""
    if is_torch(a):
        import torch

        return torch.index_select(a, axis, torch.as_tensor(np.asarray(index), device=a.device))
    return np.ascontiguousarray(np.take(a, index, axis=axis))


def project(field: Any, radius: Any) -> Any:
    """Project each pixel's group onto the ball of ``radius`` (broadcasts to ``(S, H, W)``)."""
    norms = group_norms(field)
    if is_torch(field):
        import torch

        factor = torch.where(norms > radius, radius / torch.clamp(norms, min=1e-30), 1.0)
        return field * factor
    factor = np.where(norms > radius, radius / np.maximum(norms, 1e-30), 1.0)
    return field * factor.astype(norms.dtype)


def log_penalty(magnitude: Any, eps: float) -> np.ndarray:
    """``eps sum_p log(1 + m_p / eps)`` per slice, float64 NumPy (reweighted TGV's penalty)."""
    if is_torch(magnitude):
        value = eps * (magnitude.detach().double() / eps).log1p().sum((-2, -1))
        return value.cpu().numpy()
    return eps * np.sum(np.log1p(magnitude.astype(np.float64) / eps), axis=(-2, -1))
