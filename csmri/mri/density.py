"""Density compensation for non-Cartesian k-space (Pipe and Menon's iteration).

The weights ``w`` make the sampling density flat: with ``C`` a positive gridding
kernel of unit area, the gridded density ``rho = sum_j w_j C(k - k_j)`` is 1 per
pixel squared inside the sampled support.  Pipe's fixed point ``w <- w / (C w)``
(``C w`` evaluated at the samples) reaches it in a few tens of iterations.
Because ``C`` has unit area, ``w`` comes out in k-space area per sample (pixels
squared): 1 for a fully sampled Cartesian grid, so the gridding reconstruction
``A^H (w y)`` of a Nyquist-sampled trajectory has the image's amplitude.

References
----------
J. G. Pipe and P. Menon, "Sampling density compensation in MRI: rationale and an
iterative numerical solution", Magn. Reson. Med. 41 (1999) 179-186.
"""

from __future__ import annotations

import numpy as np
from scipy.special import i0

from csmri.linop.nufft import NUFFT, check_trajectory

#: Gridding grid oversampling and kernel width (grid points), Beatty et al.'s beta.
OVERSAMPLING = 2
WIDTH = 4
BETA = np.pi * np.sqrt((WIDTH / OVERSAMPLING) ** 2 * (OVERSAMPLING - 0.5) ** 2 - 0.8)


class _Gridder:
    """Convolution of samples onto an oversampled grid with a separable Kaiser-Bessel kernel."""

    def __init__(self, coords: np.ndarray, shape: tuple[int, int]) -> None:
        self.grid = tuple(OVERSAMPLING * n + 2 * WIDTH for n in shape)  # margin: no wrap-around
        indices, weights = [], []
        for axis, n in enumerate(shape):
            g = coords[axis] * OVERSAMPLING + OVERSAMPLING * n / 2 + WIDTH
            first = np.floor(g - WIDTH / 2).astype(np.int64) + 1
            idx = first[:, None] + np.arange(WIDTH)
            u = (idx - g[:, None]) / (WIDTH / 2)
            kernel = i0(BETA * np.sqrt(np.clip(1 - u**2, 0, None))) * (np.abs(u) <= 1)
            # Unit area in pixels: the kernel sums to OVERSAMPLING over its grid points.
            kernel *= OVERSAMPLING / kernel.sum(1, keepdims=True)
            indices.append(idx)
            weights.append(kernel)
        self.flat = (indices[0][:, :, None] * self.grid[1] + indices[1][:, None, :]).reshape(
            len(coords[0]), -1
        )
        self.kernel = (weights[0][:, :, None] * weights[1][:, None, :]).reshape(len(coords[0]), -1)

    def grid_values(self, values: np.ndarray) -> np.ndarray:
        """``sum_j v_j C(g - k_j)`` on the oversampled grid (per pixel squared)."""
        size = self.grid[0] * self.grid[1]
        summed = np.bincount(
            self.flat.ravel(), (self.kernel * values[:, None]).ravel(), minlength=size
        )
        return summed.reshape(self.grid)

    def interpolate(self, grid: np.ndarray) -> np.ndarray:
        """The grid's values at the samples, with the same kernel."""
        return (grid.ravel()[self.flat] * self.kernel).sum(1) / OVERSAMPLING**2


def pipe_menon(traj: np.ndarray, shape: tuple[int, int], iterations: int = 30) -> np.ndarray:
    """Density-compensation weights of a trajectory (Pipe and Menon 1999).

    Parameters
    ----------
    traj : array, shape ``(2 or 3, *samples)``
        BART-convention coordinates in pixels.
    shape : tuple of int
        ``(H, W)`` of the image grid.
    iterations : int
        Fixed-point iterations (30 flatten the density to about 1%).

    Returns
    -------
    ndarray of float64, shape ``(*samples)``
        Positive weights in pixels squared per sample.
    """
    shape = (int(shape[-2]), int(shape[-1]))
    coords = check_trajectory(traj, shape)
    gridder = _Gridder(coords, shape)
    weights = np.ones(coords.shape[1])
    for _ in range(iterations):
        density = gridder.interpolate(gridder.grid_values(weights))
        weights = weights / np.maximum(density, np.finfo(float).tiny)
    return weights.reshape(np.shape(traj)[1:])


def gridded_density(traj: np.ndarray, shape: tuple[int, int], weights: np.ndarray) -> np.ndarray:
    """The weighted sampling density on the oversampled Cartesian grid (1 = flat, Nyquist).

    Returns
    -------
    ndarray of float64, shape (2 H, 2 W)
        Density per pixel squared, centred (zero frequency at ``(H, W)``).
    """
    shape = (int(shape[-2]), int(shape[-1]))
    gridder = _Gridder(check_trajectory(traj, shape), shape)
    density = gridder.grid_values(np.asarray(weights, np.float64).ravel())
    return density[WIDTH:-WIDTH, WIDTH:-WIDTH]


def gridding(kspace: np.ndarray, traj: np.ndarray, shape: tuple[int, int],
             weights: np.ndarray | None = None) -> np.ndarray:
    """The gridding reconstruction ``A^H (w y)``: the non-Cartesian zero-filled baseline.

    Parameters
    ----------
    kspace : ndarray, shape ``(..., *samples)``
        Samples at the trajectory points (leading slice and coil axes allowed).
    traj : array, shape ``(2 or 3, *samples)``
        BART-convention coordinates in pixels.
    shape : tuple of int
        ``(H, W)``.
    weights : ndarray, shape ``(*samples)``, optional
        Density compensation (:func:`pipe_menon` when omitted).

    Returns
    -------
    ndarray, shape (..., H, W)
        Complex images in the image's amplitude for a Nyquist-sampled trajectory.
    """
    weights = pipe_menon(traj, shape) if weights is None else np.asarray(weights)
    return NUFFT(traj, shape).adjoint(np.asarray(kspace) * weights)
