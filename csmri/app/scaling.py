"""Automatic data scaling, so that one lambda means the same on every data set.

Rule (BART's ``pics`` rule, per slice): on the magnitudes of the zero-filled
image ``|A^H y|`` take the median ``p50``, the 90th percentile ``p90`` and the
maximum; the scale is ``p90`` when ``max - p90 < 2 (p90 - p50)`` (a bulk of
bright tissue), else ``max`` (a small bright object on an empty background).
k-space is divided by the scale before solving, so lambda is in units of this
robust image maximum, and the solution is multiplied back, so results are in
the input's units.  All statistics are computed in float64, so data scaled by
anything in ``1e-12 .. 1e12`` give the same reconstruction up to that factor.

A slice with no signal gets scale 1 (its reconstruction is zero anyway).
"""

from __future__ import annotations

import numpy as np

from csmri.mri.fft import ifft2c


def robust_scale(magnitude: np.ndarray) -> float:
    """BART's robust maximum of a magnitude image (see the module docstring).

    Parameters
    ----------
    magnitude : ndarray
        Non-negative values (any shape).

    Returns
    -------
    float
        The scale (1.0 when all values are zero).
    """
    values = np.asarray(magnitude, dtype=np.float64).ravel()
    p50, p90, peak = np.percentile(values, [50.0, 90.0, 100.0])
    scale = p90 if (peak - p90) < 2.0 * (p90 - p50) else peak
    if not np.isfinite(scale) or scale <= 0:
        return 1.0
    return float(scale)


def estimate_scales(kspace: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-slice data scales of masked, centred k-space.

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W) or (H, W)
        Centred k-space.
    mask : ndarray, optional
        Sampling mask (``(W,)`` or ``(H, W)``); applied before the zero-filled
        image is formed (k-space is normally already zero where unsampled).

    Returns
    -------
    ndarray of float64, shape (S,)
        One scale per slice.
    """
    kspace = np.asarray(kspace)
    if kspace.ndim == 2:
        kspace = kspace[np.newaxis]
    if mask is not None:
        mask = np.asarray(mask) != 0
        kspace = kspace * (mask if mask.ndim == 2 else mask[np.newaxis, :])
    # float64 magnitudes: squares of 1e12-scaled complex64 values would overflow float32.
    images = np.abs(ifft2c(kspace.astype(np.complex128)))
    return np.array([robust_scale(image) for image in images])
