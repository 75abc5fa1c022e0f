"""What the operator layer and the solvers need to know about an array's kind.

csmri works on NumPy arrays and on torch tensors alike; torch is optional and is
imported only once a tensor has been seen (``import csmri`` never imports it).
Constants that operators hold as NumPy arrays (masks, coil maps, filters) are
converted once per device and precision with :func:`constant_like`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def is_torch(x: object) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_double(x: Any) -> bool:
    """Whether ``x`` holds double precision (float64 or complex128)."""
    if is_torch(x):
        import torch

        return x.dtype in (torch.float64, torch.complex128)
    return np.asarray(x).dtype in (np.float64, np.complex128)


def constant_like(value: np.ndarray, like: Any, cache: dict | None = None) -> Any:
    """``value`` as an array of ``like``'s kind, device and precision.

    Parameters
    ----------
    value : ndarray
        A real or complex constant (mask, coil maps, eigenvalues).
    like : ndarray or torch.Tensor
        The array it will be combined with.
    cache : dict, optional
        Conversions already made, keyed by kind, device and dtype (filled in).

    Returns
    -------
    ndarray or torch.Tensor
        Real constants become float32/float64, complex ones complex64/complex128,
        following ``like``'s precision; torch tensors are placed on ``like``'s device.
    """
    double = is_double(like)
    complex_value = value.is_complex() if is_torch(value) else np.iscomplexobj(value)
    if complex_value:
        dtype = np.complex128 if double else np.complex64
    else:
        dtype = np.float64 if double else np.float32
    if is_torch(like):
        key = ("torch", str(like.device), dtype)
    else:
        key = ("numpy", dtype)
    if cache is not None and key in cache:
        return cache[key]
    if is_torch(value):
        import torch

        tdtype = getattr(torch, np.dtype(dtype).name)
        out = value.to(like.device if is_torch(like) else "cpu", tdtype)
        if not is_torch(like):
            out = out.detach().cpu().numpy()
    else:
        out = np.ascontiguousarray(value, dtype=dtype)
        if is_torch(like):
            import torch

            out = torch.from_numpy(out).to(like.device)
    if cache is not None and not is_torch(value):
        cache[key] = out
    return out


def inner(a: Any, b: Any) -> complex:
    """``<a, b> = sum(conj(a) * b)`` over all elements, as a Python complex."""
    if is_torch(a):
        import torch

        return complex(torch.vdot(a.reshape(-1), b.reshape(-1)).item())
    return complex(np.vdot(a, b))


def random_complex(
    shape: tuple[int, ...], seed: int = 0, like: Any = None, dtype: type = np.complex128
) -> Any:
    """Standard complex Gaussian noise of ``shape``, of ``like``'s kind and device.

    Parameters
    ----------
    shape : tuple of int
        Array shape.
    seed : int
        Seed of NumPy's generator (the values are the same on every backend).
    like : ndarray or torch.Tensor, optional
        Kind, device and precision of the result (NumPy with ``dtype`` when omitted).
    dtype : type
        NumPy complex dtype when ``like`` is omitted.

    Returns
    -------
    ndarray or torch.Tensor
        The noise.
    """
    rng = np.random.default_rng(seed)
    value = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    if like is None:
        return value.astype(dtype)
    return constant_like(value, like)
