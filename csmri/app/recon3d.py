"""SENSE compressed sensing of 3-D Cartesian k-space, plane by plane (:mod:`csmri.mri.cartesian3d`).

The ``X`` hybrid planes go through :func:`csmri.app.reconstruct.reconstruct` as a stack
of slices (chunked, so memory is bounded by ``chunk`` planes of solver state), with one
data scale for the whole volume (BART's rule on ``|A^H y|`` over all voxels, as
``pics`` scales a volume), so ``lam`` weighs every plane alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from csmri.app.reconstruct import reconstruct
from csmri.app.scaling import robust_scale
from csmri.linop import Sense
from csmri.mri.cartesian3d import check_volume, readout_to_planes
from csmri.mri.coils import estimate_maps


@dataclass
class Volume:
    """A reconstructed volume ``(X, Y, Z)`` (complex64, input units), its maps and scale."""

    images: np.ndarray
    maps: np.ndarray
    scale: float
    iterations: list[int]


def reconstruct_3d(
    kspace: np.ndarray,
    mask: np.ndarray,
    reg: str = "tv",
    lam: float = 0.003,
    maps: np.ndarray | str = "espirit",
    max_iter: int = 100,
    chunk: int = 8,
    **options,
) -> Volume:
    """SENSE-CS of 3-D k-space ``(C, X, Y, Z)`` with a ``(ky, kz)`` mask ``(Y, Z)``.

    Parameters
    ----------
    kspace : ndarray, shape (C, X, Y, Z)
        Centred, masked k-space, readout fully sampled along axis 1.
    mask : ndarray, shape (Y, Z)
        Sampling mask of the phase-encoding plane.
    reg, lam, max_iter, **options
        As for :func:`csmri.app.reconstruct.reconstruct` (``lam`` in normalised units).
    maps : ndarray of shape (X, C, Y, Z), or {"espirit", "lowres"}
        Coil maps per plane, or the estimator run on every plane.
    chunk : int
        Planes solved together.

    Returns
    -------
    Volume
        Images ``(X, Y, Z)``, the maps ``(X, C, Y, Z)``, the scale and iterations per plane.
    """
    check_volume(kspace, mask)
    planes = readout_to_planes(kspace * (np.asarray(mask) != 0))
    if isinstance(maps, str):  # per chunk: ESPIRiT's C x C matrices per pixel are the peak
        mode = maps
        maps = np.concatenate([
            estimate_maps(planes[i : i + chunk], np.asarray(mask) != 0, mode)
            for i in range(0, len(planes), chunk)
        ])
    magnitude = np.concatenate([  # |A^H y| chunk by chunk: no double-precision volume copy
        np.abs(Sense(maps[i : i + chunk], mask).adjoint(planes[i : i + chunk]))
        for i in range(0, len(planes), chunk)
    ])
    scale = robust_scale(magnitude)
    result = reconstruct(planes, mask, reg=reg, lam=lam, max_iter=max_iter, maps=maps,
                         chunk=chunk, scale=scale, **options)
    return Volume(result.images, maps, scale, list(result.iterations))
