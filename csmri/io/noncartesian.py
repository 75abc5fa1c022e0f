"""Readers of non-Cartesian k-space: SigPy-style ``.npz`` and BART ``ksp``/``traj`` cfl pairs.

Both return a :class:`NonCartesianScan` of plain arrays in csmri's conventions:
k-space ``(S, C, *samples)``, a BART-convention trajectory ``(3, *samples)`` in pixels
(:mod:`csmri.linop.nufft`), the image matrix and optional density weights.

* ``.npz`` (SigPy's convention): ``kspace`` of shape ``(*samples)``, ``(C, *samples)``
  or ``(S, C, *samples)``; ``coord`` of shape ``(*samples, 2 or 3)``, the last axis the
  coordinates in pixels (``coord[..., 0]`` along the image rows); optional ``weights``
  ``(*samples)`` and ``shape`` ``(H, W)``.
* BART: ``ksp`` with dims ``[1, readout, spokes, coils, 1, ..., slices (13)]`` and
  ``traj`` with dims ``[3, readout, spokes]`` (``bart traj`` output).

The matrix is ``shape`` when given, else the trajectory's extent (``2 max |k|`` rounded
up to even, :func:`csmri.mri.trajectories.matrix_size`).  Unusable input raises
:class:`csmri.errors.InputError` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from csmri.errors import InputError
from csmri.io.cfl import BART_DIMS, COIL_DIM, SLICE_DIM, read_cfl
from csmri.linop.nufft import check_trajectory
from csmri.mri.trajectories import matrix_size


class NonCartesianScan(NamedTuple):
    """Non-Cartesian k-space with its trajectory (plain arrays)."""

    kspace: np.ndarray
    """Complex64 samples ``(S, C, *samples)``."""
    traj: np.ndarray
    """Float64 BART-convention coordinates ``(3, *samples)`` in pixels."""
    shape: tuple[int, int]
    """Image matrix ``(H, W)``."""
    weights: np.ndarray | None
    """Density-compensation weights ``(*samples)``, or None."""


def _check(
    kspace: np.ndarray, traj: np.ndarray, shape: Any, weights: Any, path: object
) -> NonCartesianScan:
    samples = tuple(traj.shape[1:])
    if not np.all(np.isfinite(traj)):
        raise InputError("trajectory contains NaN or infinite values", path)
    if not np.issubdtype(kspace.dtype, np.number) or not np.all(np.isfinite(kspace)):
        raise InputError("k-space must be numeric and contain no NaN or infinite values", path)
    if tuple(kspace.shape[2:]) != samples:
        raise InputError(
            f"k-space has {int(np.prod(kspace.shape[2:]))} samples per coil "
            f"{tuple(kspace.shape[2:])}, the trajectory {int(np.prod(samples))} {samples}", path
        )
    if shape is None:
        try:
            shape = matrix_size(traj)
        except ValueError as error:
            raise InputError(f"no matrix size can be inferred: {error}", path) from None
    shape = tuple(int(s) for s in np.asarray(shape).ravel())
    if len(shape) != 2 or min(shape) < 2:
        raise InputError(f"matrix size must be two sizes >= 2, got {shape}", path)
    try:
        check_trajectory(traj, shape)
    except ValueError as error:
        raise InputError(f"{error} (matrix {shape[0]}x{shape[1]})", path) from None
    if weights is not None:
        weights = np.asarray(weights)
        if np.iscomplexobj(weights):
            weights = weights.real
        if weights.shape != samples:
            raise InputError(f"density weights of shape {weights.shape}, samples {samples}", path)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise InputError("density weights must be finite and non-negative", path)
        weights = weights.astype(np.float64)
    return NonCartesianScan(kspace.astype(np.complex64), traj, (shape[0], shape[1]), weights)


def read_npz_noncartesian(
    path: str | Path, shape: tuple[int, int] | None = None
) -> NonCartesianScan:
    """Read ``kspace`` and SigPy-convention ``coord`` (and ``weights``, ``shape``) from ``.npz``.

    Parameters
    ----------
    path : str or Path
        The file.
    shape : tuple of int, optional
        Image matrix; the file's ``shape``, else the trajectory's extent, when omitted.

    Returns
    -------
    NonCartesianScan
        k-space ``(S, C, *samples)`` (a 1-D leading axis is coils), trajectory, matrix, weights.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read as .npz ({error})", path) from None
    for key in ("kspace", "coord"):
        if key not in arrays:
            raise InputError(f"no {key!r} array (found {', '.join(arrays) or 'none'})", path)
    coord = arrays["coord"]
    if coord.ndim < 2 or coord.shape[-1] not in (2, 3) or np.iscomplexobj(coord):
        raise InputError(f"coord must be real (*samples, 2 or 3), got {coord.shape}", path)
    traj = np.moveaxis(coord.astype(np.float64), -1, 0)
    if traj.shape[0] == 2:
        traj = np.concatenate([traj, np.zeros_like(traj[:1])])
    kspace = np.asarray(arrays["kspace"])
    lead = kspace.ndim - (traj.ndim - 1)
    if lead not in (0, 1, 2):
        raise InputError(f"k-space of shape {kspace.shape} for coord {coord.shape}", path)
    kspace = kspace.reshape((1,) * (2 - lead) + kspace.shape)
    if shape is None and "shape" in arrays:
        shape = arrays["shape"]
    return _check(kspace, traj, shape, arrays.get("weights"), path)


def read_bart_noncartesian(
    ksp: str | Path, traj: str | Path, shape: tuple[int, int] | None = None,
    weights: str | Path | None = None,
) -> NonCartesianScan:
    """Read BART ``ksp`` and ``traj`` cfl pairs (and optional density weights).

    Parameters
    ----------
    ksp, traj : str or Path
        The cfl pairs (either file or the stem).
    shape : tuple of int, optional
        Image matrix (the trajectory's extent when omitted).
    weights : str or Path, optional
        A cfl pair of real weights with the trajectory's sample dims.

    Returns
    -------
    NonCartesianScan
        k-space ``(S, C, readout, spokes)``, trajectory, matrix, weights.
    """
    coords = read_cfl(traj)
    if coords.ndim == 2:
        coords = coords[..., None]
    if coords.ndim != 3 or coords.shape[0] != 3:
        raise InputError(f"trajectory dims {coords.shape}: expected [3, readout, spokes]", traj)
    if np.any(coords.imag != 0):
        raise InputError("trajectory coordinates must be real", traj)
    data = read_cfl(ksp)
    dims = list(data.shape) + [1] * (BART_DIMS - data.ndim)
    extra = [d for i, d in enumerate(dims) if i not in (0, 1, 2, COIL_DIM, SLICE_DIM) and d != 1]
    if dims[0] != 1 or extra:
        raise InputError(f"k-space dims {data.shape}: expected [1, readout, spokes, coils, "
                         "..., slices] with no other dimension", ksp)
    kspace = data.reshape(dims, order="A")[0, :, :, :, 0, 0, 0, 0, 0, 0, 0, 0, 0, :, 0, 0]
    kspace = np.ascontiguousarray(np.transpose(kspace, (3, 2, 0, 1)))  # S, C, R, spokes
    density = None
    if weights is not None:
        density = read_cfl(weights)
        if density.size != np.prod(coords.shape[1:]):
            raise InputError(f"density weights of dims {density.shape} for trajectory "
                             f"samples {coords.shape[1:]}", weights)
        density = density.reshape(coords.shape[1:], order="A")
        if np.any(density.imag != 0) or np.any(density.real < 0):
            raise InputError("density weights must be real and non-negative", weights)
    return _check(kspace, coords.real.astype(np.float64), shape, density, ksp)
