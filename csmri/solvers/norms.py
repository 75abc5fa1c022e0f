"""Per-slice norms of NumPy arrays and torch tensors, as float64 NumPy vectors for the history."""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.arrays import is_torch


def squared_norms(a: Any, slice_axis: int = 0) -> np.ndarray:
    """``||a_s||^2`` of each slice ``s`` (float64 NumPy, detached from any autograd graph).

    NumPy arrays take one BLAS dot product per slice (``vdot`` reads the data once,
    where ``real**2 + imag**2`` would make temporaries); tensors are reduced on their
    device and only the ``S`` sums are copied back.
    """
    if is_torch(a):
        import torch

        with torch.no_grad():
            moved = torch.movedim(a, slice_axis, 0) if slice_axis else a
            flat = moved.reshape(moved.shape[0], -1)
            sums = (flat.real**2 + flat.imag**2).sum(-1) if flat.is_complex() else (flat**2).sum(-1)
            return sums.double().cpu().numpy()
    a = np.moveaxis(a, slice_axis, 0) if slice_axis else a
    return np.array([np.vdot(s, s).real for s in a], dtype=np.float64)


def to_numpy(values: Any) -> np.ndarray:
    """Per-slice values (a tensor or an array) as float64 NumPy, detached."""
    if is_torch(values):
        return values.detach().double().cpu().numpy()
    return np.asarray(values, dtype=np.float64)
