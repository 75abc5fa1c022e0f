"""The proximal-gradient solvers' per-iteration arithmetic: Numba on NumPy stacks, else generic.

A C-contiguous NumPy ``complex64`` stack ``(S, H, W)`` takes the fused kernels of
:mod:`csmri.solvers.kernels` (one pass over memory each); any other array (a
torch tensor on any device, double precision) takes the same formulas written
with out-of-place array operations, which autograd differentiates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.arrays import constant_like, is_torch
from csmri.solvers import kernels
from csmri.solvers.norms import squared_norms


def fast(*arrays: Any) -> bool:
    """Whether every array is a C-contiguous NumPy ``complex64`` stack ``(S, H, W)``."""
    return all(
        isinstance(a, np.ndarray)
        and a.dtype == np.complex64
        and a.ndim == 3
        and a.flags.c_contiguous
        for a in arrays
    )


def step_stats(x_new: Any, x: Any, z: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``||x_new - x||^2``, ``||x_new||^2`` and ``Re <z - x_new, x_new - x>`` per slice."""
    if fast(x_new, x, z):
        return kernels.step_stats(x_new, x, z)
    step = x_new - x
    back = z - x_new
    inner = (back.conj() * step).real
    axes = tuple(range(1, len(step.shape)))
    if is_torch(inner):
        inner = inner.detach().sum(dim=axes).double().cpu().numpy()
    else:
        inner = inner.sum(axis=axes, dtype=np.float64)
    return squared_norms(step), squared_norms(x_new), inner


def extrapolate(new: Any, old: Any, beta: np.ndarray) -> Any:
    """``new + beta_s (new - old)`` (FISTA's momentum point)."""
    if fast(new, old):
        out = np.empty_like(new)
        kernels.extrapolate(new, old, beta.astype(np.float32), out)
        return out
    b = constant_like(np.asarray(beta, dtype=np.float64), new).reshape(
        -1, *([1] * (len(new.shape) - 1))
    )
    return new + b * (new - old)


def per_slice(values: np.ndarray, like: Any) -> Any:
    """Per-slice scalars as an array of ``like``'s kind and real precision, ``(S, 1, 1)``."""
    return constant_like(np.asarray(values, dtype=np.float64), like).reshape(-1, 1, 1)
