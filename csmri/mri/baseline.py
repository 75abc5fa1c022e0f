"""The linear baselines: zero-filled inverse FFT, its coil RSS, and the SENSE adjoint."""

from __future__ import annotations

import numpy as np

from csmri.mri.fft import ifft2c


def zero_filled(kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Inverse centred FFT of the masked k-space, missing columns left at zero.

    Parameters
    ----------
    kspace : ndarray, shape (..., H, W)
        Measured k-space.
    mask : ndarray, shape (W,)
        Sampled columns (applied again, so unmasked input is fine).

    Returns
    -------
    ndarray of complex64, shape (..., H, W)
        Aliased complex images ``F^H M y``.
    """
    return ifft2c(np.asarray(kspace) * (np.asarray(mask) != 0)).astype(np.complex64)


def rss_zero_filled(kspace: np.ndarray) -> np.ndarray:
    """Root-sum-of-squares of the zero-filled coil images, ``(S, H, W)`` float32.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred, masked k-space.

    Returns
    -------
    ndarray of float32, shape (S, H, W)
        fastMRI's multi-coil zero-filled baseline (and U-Net input).
    """
    images = ifft2c(np.asarray(kspace, dtype=np.complex64))
    return np.sqrt(np.sum(np.abs(images) ** 2, axis=1)).astype(np.float32)


def sense_adjoint(kspace: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Coil-combined zero-filled image ``sum_c conj(S_c) ifft2c(y_c)``, complex ``(S, H, W)``.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred, masked k-space.
    maps : ndarray, shape (S, C, H, W) or (C, H, W)
        Coil sensitivities.

    Returns
    -------
    ndarray of complex64, shape (S, H, W)
        ``S^H F^H y``.
    """
    coils = ifft2c(np.asarray(kspace, dtype=np.complex64))
    return np.sum(np.conj(np.asarray(maps)) * coils, axis=-3).astype(np.complex64)
