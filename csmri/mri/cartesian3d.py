"""3-D Cartesian k-space as a stack of independent 2-D ``(ky, kz)`` problems.

With a fully sampled readout ``kx``, the 3-D forward model ``M F_xyz S`` factors as
``F_x`` (unmasked) times a 2-D ``(ky, kz)`` model per readout position ``x``: the mask acts
on ``(ky, kz)`` only.  So the centred inverse FFT along the readout turns k-space
``(C, X, Y, Z)`` into ``X`` planes ``(C, Y, Z)`` of hybrid ``(x, ky, kz)`` data, each an
ordinary 2-D multi-coil problem with the same 2-D mask and its own coil maps; the
reconstructed planes stacked along ``x`` are the volume.  The solve itself is in
:mod:`csmri.app.recon3d` (it batches the planes like slices).
"""

from __future__ import annotations

import numpy as np

from csmri.errors import InputError
from csmri.linop.fft import ifft_readout


def check_volume(kspace: np.ndarray, mask: np.ndarray) -> None:
    """Refuse k-space that is not ``(C, X, Y, Z)`` or a mask that is not ``(Y, Z)``."""
    if np.ndim(kspace) != 4:
        raise InputError(f"3-D k-space must have shape (C, X, Y, Z), got {np.shape(kspace)}")
    if np.shape(mask) != tuple(np.shape(kspace)[-2:]):
        raise InputError(
            f"mask shape {np.shape(mask)} does not match the (ky, kz) grid "
            f"{tuple(np.shape(kspace)[-2:])}"
        )


def readout_to_planes(kspace: np.ndarray) -> np.ndarray:
    """Centred orthonormal inverse FFT along the readout: ``(C, X, Y, Z)`` -> ``(X, C, Y, Z)``.

    Parameters
    ----------
    kspace : ndarray, shape (C, X, Y, Z)
        Centred 3-D k-space, readout along axis 1.

    Returns
    -------
    ndarray of complex64, shape (X, C, Y, Z)
        One 2-D multi-coil ``(ky, kz)`` k-space per readout position.
    """
    hybrid = ifft_readout(np.asarray(kspace), axis=1)
    return np.ascontiguousarray(hybrid.transpose(1, 0, 2, 3)).astype(np.complex64)


def volume_rss(kspace: np.ndarray) -> np.ndarray:
    """Root-sum-of-squares of the zero-filled coil volumes, ``(X, Y, Z)`` float32."""
    from csmri.mri.fft import ifft2c

    images = ifft2c(readout_to_planes(kspace))
    return np.sqrt(np.sum(np.abs(images) ** 2, axis=1)).astype(np.float32)
