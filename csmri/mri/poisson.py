"""Variable-density Poisson-disc masks on the ``(ky, kz)`` grid of 3-D Cartesian k-space.

Every grid point is visited once in a seeded random order and accepted unless an
earlier accepted point lies within that point's exclusion radius (random sequential
addition, run to saturation).  The radius grows linearly with the normalised
distance from the centre, ``d(rho) = d0 (1 + slope rho)`` with
``rho = sqrt((ky / (Ny/2))^2 + (kz / (Nz/2))^2)``, so the sampling density falls as
``1 / d(rho)^2`` (saturated random sequential addition of discs covers a fixed
fraction of the plane, about 0.55, so the density is close to ``0.7 / d^2`` where
``d`` is more than a few samples).  ``d0`` is found by bisection so the mask, with its
fully sampled ``calib x calib`` centre, reaches the requested acceleration.
"""

from __future__ import annotations

import numpy as np

from csmri.errors import UsageError


def exclusion_radius(shape: tuple[int, int], d0: float, slope: float) -> np.ndarray:
    """``d(rho)`` in grid samples at every point of a centred ``(Ny, Nz)`` grid."""
    ny, nz = shape
    ky = (np.arange(ny) - ny // 2) / max(ny / 2, 1)
    kz = (np.arange(nz) - nz // 2) / max(nz / 2, 1)
    rho = np.sqrt(ky[:, None] ** 2 + kz[None, :] ** 2)
    return d0 * (1.0 + slope * rho)


def random_sequential_addition(radius: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Accept grid points in ``order`` unless an accepted point lies within their radius.

    Parameters
    ----------
    radius : ndarray, shape (Ny, Nz)
        Exclusion radius per point, in samples.
    order : ndarray of int
        A permutation of the flat indices (the visiting order).

    Returns
    -------
    ndarray of bool, shape (Ny, Nz)
        The accepted points.
    """
    ny, nz = radius.shape
    reach = int(np.ceil(radius.max()))
    # nearest[y, z]: the smallest distance to an accepted point so far (padded by reach).
    nearest = np.full((ny + 2 * reach, nz + 2 * reach), np.inf)
    dy, dz = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    disc = np.sqrt(dy * dy + dz * dz)
    mask = np.zeros((ny, nz), dtype=bool)
    for flat in order:
        y, z = divmod(int(flat), nz)
        if nearest[y + reach, z + reach] < radius[y, z]:
            continue
        mask[y, z] = True
        window = nearest[y : y + 2 * reach + 1, z : z + 2 * reach + 1]
        np.minimum(window, disc, out=window)
    return mask


def poisson_disc_mask(
    shape: tuple[int, int],
    acceleration: float,
    calib: int = 16,
    slope: float = 1.0,
    seed: int = 0,
    tol: float = 0.05,
) -> np.ndarray:
    """A seeded variable-density Poisson-disc ``(ky, kz)`` mask with a calibration centre.

    Parameters
    ----------
    shape : tuple of int
        ``(Ny, Nz)``.
    acceleration : float
        Target ``Ny * Nz / samples`` (> 1).
    calib : int
        Side of the fully sampled centre (0: none).
    slope : float
        Growth of the exclusion radius from the centre to ``rho = 1`` (0: uniform density).
    seed : int
        Seeds the visiting order: the same arguments give the same mask.
    tol : float
        Relative tolerance on the acceleration for the bisection on ``d0``.

    Returns
    -------
    ndarray of bool, shape (Ny, Nz)
        True where sampled.
    """
    ny, nz = shape
    if not acceleration > 1:
        raise UsageError(f"acceleration must be > 1, got {acceleration}")
    if calib < 0 or calib > min(ny, nz):
        raise UsageError(f"calibration size {calib} does not fit the {ny}x{nz} grid")
    centre = np.zeros(shape, dtype=bool)
    top, left = ny // 2 - calib // 2, nz // 2 - calib // 2
    centre[top : top + calib, left : left + calib] = True
    if centre.sum() * acceleration > ny * nz:
        raise UsageError(f"a {calib}x{calib} centre alone exceeds 1/{acceleration} of the grid")
    order = np.random.default_rng(seed).permutation(ny * nz)
    lo, hi = 0.5, float(max(ny, nz))
    best = None
    for _ in range(40):
        d0 = 0.5 * (lo + hi)
        mask = random_sequential_addition(exclusion_radius(shape, d0, slope), order) | centre
        realised = ny * nz / mask.sum()
        if best is None or abs(realised - acceleration) < abs(best[1] - acceleration):
            best = (mask, realised)
        if abs(realised - acceleration) <= tol * acceleration:
            break
        lo, hi = (d0, hi) if realised < acceleration else (lo, d0)
    return best[0]
