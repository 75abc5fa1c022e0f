"""The linear baseline: zero-filled inverse FFT."""

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
