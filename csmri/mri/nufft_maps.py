"""Coil maps from non-Cartesian k-space: ESPIRiT on the gridded centre of k-space.

ESPIRiT (:mod:`csmri.mri.espirit`) needs a fully sampled Cartesian calibration
region.  Radial and spiral trajectories sample their centre densely, so the
samples inside a central ``c x c`` square are density-compensated (Pipe-Menon) and
gridded onto a ``c x c`` Cartesian grid: the adjoint NUFFT onto a ``c x c`` image
followed by ``fft2c`` (k in pixels is independent of the matrix, so the same
trajectory serves both grids).  ``c`` is the calibration size (at most ``calib``)
inside which the trajectory is Nyquist-sampled: every grid point has a sample within
:data:`GAP` pixels (Pipe's weights cannot tell: they saturate at the kernel's area).
Where that is too small for ESPIRiT the low-resolution maps of the gridded
``calib x calib`` centre are returned instead (its Hann window smooths the aliasing:
at 14 spokes on 48x48 they correlated 0.9996 with the true maps, against 0.995 from
the Nyquist-sampled 8x8 centre).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.linop.nufft import NUFFT, check_trajectory
from csmri.mri.density import pipe_menon
from csmri.mri.espirit import CALIB, KERNEL, espirit, lowres_maps
from csmri.mri.fft import fft2c

MAP_MODES = ("espirit", "lowres")
#: Largest distance (pixels) from a calibration grid point to its nearest sample.
GAP = 0.6


def calibration_size(coords: np.ndarray, calib: int = CALIB, gap: float = GAP) -> int:
    """Even size ``c <= calib`` of the central square in which the trajectory is at Nyquist.

    Every Cartesian grid point ``g`` with ``max(|gx|, |gy|) < c/2`` has a sample within
    ``gap`` pixels (half a pixel is the Nyquist spacing's worst case; a radial scan
    meets it out to a radius of ``spokes / pi``).
    """
    from scipy.spatial import cKDTree

    half = int(calib) // 2
    axis = np.arange(-half, half)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    distance, _ = cKDTree(coords.T).query(grid)
    ring = np.maximum(np.abs(grid[:, 0] + 0.5) - 0.5, np.abs(grid[:, 1] + 0.5) - 0.5)
    far = ring[distance > gap]
    limit = int(far.min()) if far.size else half
    return 2 * min(limit, half)


def gridded_calibration(
    samples: np.ndarray, coords: np.ndarray, size: int, weights: np.ndarray
) -> np.ndarray:
    """Cartesian ``(..., size, size)`` k-space of the samples inside the central square.

    ``samples`` is ``(..., M)``, ``coords`` ``(2, M)`` in pixels and ``weights`` ``(M,)``.
    """
    central = np.all(np.abs(coords) < size / 2, axis=0)
    op = NUFFT(coords[:, central], (size, size), toeplitz=False)
    return fft2c(op.adjoint(samples[..., central] * weights[central]))


def nufft_maps(
    kspace: Any,
    traj: np.ndarray,
    shape: tuple[int, int],
    *,
    mode: str = "espirit",
    weights: np.ndarray | None = None,
    calib: int = CALIB,
    device: str = "cpu",
) -> np.ndarray:
    """Coil maps of non-Cartesian multi-coil k-space.

    Parameters
    ----------
    kspace : ndarray, shape ``(C, *samples)`` or ``(S, C, *samples)``
        Samples of each coil at the trajectory points.
    traj : array, shape ``(2 or 3, *samples)``
        BART-convention coordinates in pixels.
    shape : tuple of int
        ``(H, W)`` of the maps.
    mode : {"espirit", "lowres"}
        ESPIRiT, falling back to the low-resolution maps when the Nyquist-sampled
        centre is smaller than ESPIRiT's ``kernel + 4``; or the low-resolution maps.
    weights : ndarray, shape ``(*samples)``, optional
        Density compensation (Pipe-Menon when omitted).
    calib : int
        Largest calibration size.
    device : str
        Torch device of the estimate.

    Returns
    -------
    ndarray of complex64, shape (S, C, H, W)
        Maps with ``sum_c |S_c|^2 = 1`` where not cropped.
    """
    if mode not in MAP_MODES:
        raise ValueError(f"unknown maps estimator {mode!r}; choose {', '.join(MAP_MODES)}")
    h, w = (int(s) for s in shape)
    coords = check_trajectory(traj, (h, w))
    weights = pipe_menon(traj, (h, w)) if weights is None else np.asarray(weights, np.float64)
    kspace = np.asarray(kspace)
    kspace = kspace[None] if kspace.ndim == np.ndim(traj) else kspace
    size = calibration_size(coords, calib)
    if mode == "espirit" and size < KERNEL + 4:
        mode = "lowres"
    if mode == "lowres":  # smooth maps: a wider, aliased centre beat the Nyquist one (48x48)
        size = min(int(calib), h - h % 2, w - w % 2)
    samples = kspace.reshape(*kspace.shape[:2], -1)
    block = gridded_calibration(samples, coords, size, weights.ravel())
    full = np.zeros((*kspace.shape[:2], h, w), dtype=np.complex64)
    top, left = h // 2 - size // 2, w // 2 - size // 2
    full[..., top : top + size, left : left + size] = block
    mask = np.zeros((h, w), dtype=bool)
    mask[top : top + size, left : left + size] = True
    if mode == "espirit":
        maps = espirit(full, mask, calib=size, device=device)
    else:
        maps = lowres_maps(full, mask, calib=size, device=device)
    return maps.cpu().numpy()
