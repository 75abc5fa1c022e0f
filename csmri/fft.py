"""Centred, orthonormal 2-D Fourier transforms (fastMRI's ``fft2c`` / ``ifft2c``).

The transforms act on the last two axes of complex arrays of any leading shape.
``ifftshift`` before and ``fftshift`` after the transform put the zero frequency
in the centre for odd and even sizes alike, exactly as fastMRI does.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.fft

_AXES = (-2, -1)


def fft_workers() -> int:
    """Threads for ``scipy.fft``: ``CSMRI_FFT_WORKERS``, else 1 (see :mod:`csmri.backend`)."""
    value = os.environ.get("CSMRI_FFT_WORKERS")
    return int(value) if value else 1


def fft2c(image: np.ndarray) -> np.ndarray:
    """Centred orthonormal 2-D FFT over the last two axes.

    Parameters
    ----------
    image : ndarray, shape (..., H, W)
        Complex image(s).

    Returns
    -------
    ndarray, shape (..., H, W)
        k-space with the zero frequency at index ``(H // 2, W // 2)``.
    """
    shifted = scipy.fft.ifftshift(image, axes=_AXES)
    kspace = scipy.fft.fft2(shifted, axes=_AXES, norm="ortho", workers=fft_workers())
    return scipy.fft.fftshift(kspace, axes=_AXES)


def ifft2c(kspace: np.ndarray) -> np.ndarray:
    """Centred orthonormal inverse 2-D FFT over the last two axes.

    Parameters
    ----------
    kspace : ndarray, shape (..., H, W)
        Centred k-space.

    Returns
    -------
    ndarray, shape (..., H, W)
        Complex image(s); ``ifft2c(fft2c(x)) == x`` up to rounding.
    """
    shifted = scipy.fft.ifftshift(kspace, axes=_AXES)
    image = scipy.fft.ifft2(shifted, axes=_AXES, norm="ortho", workers=fft_workers())
    return scipy.fft.fftshift(image, axes=_AXES)
