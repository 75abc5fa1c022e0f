"""Centred, orthonormal 2-D Fourier transforms (fastMRI's ``fft2c`` / ``ifft2c``).

The transforms act on the last two axes of complex arrays of any leading shape,
NumPy arrays (``scipy.fft``) and torch tensors (``torch.fft``, differentiable, on
the tensor's device) alike; torch is imported only when a tensor is passed.
``ifftshift`` before and ``fftshift`` after the transform put the zero frequency
in the centre for odd and even sizes alike, exactly as fastMRI does.
"""

from __future__ import annotations

import os
from typing import Any

import scipy.fft

from csmri.arrays import is_torch

_AXES = (-2, -1)


def fft_workers() -> int | None:
    """Threads for ``scipy.fft``: ``CSMRI_FFT_WORKERS``, else None (see :mod:`csmri.backend`)."""
    value = os.environ.get("CSMRI_FFT_WORKERS")
    return int(value) if value else None


def _torch_fft2c(x: Any, inverse: bool) -> Any:
    import torch

    transform = torch.fft.ifft2 if inverse else torch.fft.fft2
    shifted = torch.fft.ifftshift(x, dim=_AXES)
    return torch.fft.fftshift(transform(shifted, dim=_AXES, norm="ortho"), dim=_AXES)


def fft2c(image: Any) -> Any:
    """Centred orthonormal 2-D FFT over the last two axes.

    Parameters
    ----------
    image : ndarray or torch.Tensor, shape (..., H, W)
        Complex image(s).

    Returns
    -------
    ndarray or torch.Tensor, shape (..., H, W)
        k-space with the zero frequency at index ``(H // 2, W // 2)``, of the input's kind.
    """
    if is_torch(image):
        return _torch_fft2c(image, inverse=False)
    shifted = scipy.fft.ifftshift(image, axes=_AXES)
    kspace = scipy.fft.fft2(shifted, axes=_AXES, norm="ortho", workers=fft_workers())
    return scipy.fft.fftshift(kspace, axes=_AXES)


def ifft2c(kspace: Any) -> Any:
    """Centred orthonormal inverse 2-D FFT over the last two axes.

    Parameters
    ----------
    kspace : ndarray or torch.Tensor, shape (..., H, W)
        Centred k-space.

    Returns
    -------
    ndarray or torch.Tensor, shape (..., H, W)
        Complex image(s); ``ifft2c(fft2c(x)) == x`` up to rounding.
    """
    if is_torch(kspace):
        return _torch_fft2c(kspace, inverse=True)
    shifted = scipy.fft.ifftshift(kspace, axes=_AXES)
    image = scipy.fft.ifft2(shifted, axes=_AXES, norm="ortho", workers=fft_workers())
    return scipy.fft.fftshift(image, axes=_AXES)


def ifft_readout(kspace: Any, axis: int = 1) -> Any:
    """Centred orthonormal inverse 1-D FFT along the readout of NumPy k-space.

    A 3-D Cartesian scan is fully sampled along its readout, so this turns it into
    independent 2-D ``(ky, kz)`` problems, one per readout position.

    Parameters
    ----------
    kspace : ndarray
        k-space with the readout along ``axis``.
    axis : int
        The readout axis.

    Returns
    -------
    ndarray
        Hybrid space ``(x, ky, kz)``, same shape.
    """
    shifted = scipy.fft.ifftshift(kspace, axes=axis)
    hybrid = scipy.fft.ifft(shifted, axis=axis, norm="ortho", workers=fft_workers())
    return scipy.fft.fftshift(hybrid, axes=axis)


def shift_phase(shape: tuple[int, int]) -> Any:
    """``phi`` with ``F(ifftshift(x)) = phi * F(x)`` (unit modulus, complex64), shape ``(H, W)``.

    ``F`` is the uncentred FFT: the fast data terms work in uncentred coordinates and
    fold the image-space shift into the data once (:mod:`csmri.solvers.data`).
    """
    import numpy as np

    h, w = shape
    # ifftshift rolls by -(n // 2): multiplying F by exp(+2 pi i k (n//2) / n).
    pv = np.exp(2j * np.pi * np.arange(h) * (h // 2) / h)
    ph = np.exp(2j * np.pi * np.arange(w) * (w // 2) / w)
    return (pv[:, None] * ph[None, :]).astype(np.complex64)


__all__ = ["fft2c", "fft_workers", "ifft2c", "ifft_readout", "shift_phase"]


def column_normal(x: Any, weights: Any) -> Any:
    """``F^H M F x`` for a column mask ``M``, with 1-D FFTs along the last axis only.

    With ``M`` constant along the rows, ``F^H M F = I_H (x) F_W^H M_W F_W``: the row
    transform cancels.  ``F_W^H M_W F_W`` is a circular convolution, which commutes with
    the centring shifts, so the uncentred transforms with the mask ``ifftshift``-ed give
    the centred operator exactly.

    Parameters
    ----------
    x : ndarray or torch.Tensor, shape (..., H, W)
        Complex image(s).
    weights : ndarray or torch.Tensor, shape (W,)
        The ``ifftshift``-ed column mask, of ``x``'s kind, device and real precision.

    Returns
    -------
    ndarray or torch.Tensor, shape (..., H, W)
        ``F^H M F x``, of the input's kind.
    """
    if is_torch(x):
        import torch

        return torch.fft.ifft(torch.fft.fft(x, dim=-1, norm="ortho") * weights, dim=-1,
                              norm="ortho")
    spectrum = scipy.fft.fft(x, axis=-1, norm="ortho", workers=fft_workers()) * weights
    return scipy.fft.ifft(spectrum, axis=-1, norm="ortho", workers=fft_workers())
