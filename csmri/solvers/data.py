"""The data term ``1/2 ||M F_c x - y||^2`` rewritten in uncentred FFT coordinates.

With ``F_c x = fftshift(F(ifftshift(x)))`` and ``F`` the uncentred orthonormal
FFT, the circular shift in image space is a unit-modulus diagonal ``phi`` in
k-space: ``F(ifftshift(x)) = phi * F(x)``.  Hence, for any (odd or even) size,

``||M_c F_c x - y|| = ||M_u F x - y_u||``  with  ``M_u = ifftshift(M_c)``,
``y_u = conj(phi) * ifftshift(y)``,

so the solvers use plain ``scipy.fft`` (no shift copies) and the image ``x`` is
unchanged.  ``F`` has norm 1 and ``M`` is 0/1, so the gradient
``F^H M_u (M_u F x - y_u)`` is exactly 1-Lipschitz.
"""

from __future__ import annotations

import numpy as np

from csmri.backend import Backend
from csmri.solvers import kernels


def shift_phase(shape: tuple[int, int]) -> np.ndarray:
    """``phi`` with ``F(ifftshift(x)) = phi * F(x)`` (unit modulus), shape ``(H, W)``."""
    h, w = shape
    # ifftshift rolls by -(n // 2): multiplying F by exp(+2 pi i k (n//2) / n).
    pv = np.exp(2j * np.pi * np.arange(h) * (h // 2) / h)
    ph = np.exp(2j * np.pi * np.arange(w) * (w // 2) / w)
    return (pv[:, None] * ph[None, :]).astype(np.complex64)


class CartesianData:
    """Masked single-coil Cartesian data term on a batch of slices, uncentred.

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W)
        Centred, masked k-space (already divided by the data scale).
    mask : ndarray, shape (W,) or (H, W)
        Centred sampling mask (nonzero = sampled).
    backend : Backend
        FFT provider.
    """

    def __init__(self, kspace: np.ndarray, mask: np.ndarray, backend: Backend) -> None:
        h, w = kspace.shape[-2:]
        mask = np.asarray(mask)
        mask2d = np.broadcast_to(mask if mask.ndim == 2 else mask[None, :], (h, w))
        self.mask = np.ascontiguousarray(np.fft.ifftshift(mask2d != 0), dtype=np.float32)
        phase = shift_phase((h, w))
        self.y = (np.conj(phase) * np.fft.ifftshift(kspace, axes=(-2, -1))).astype(np.complex64)
        self.y *= self.mask
        self.backend = backend
        self.shape = (h, w)

    def forward_full(self, x: np.ndarray) -> np.ndarray:
        """``F x`` (uncentred, unmasked)."""
        return self.backend.fft2(x)

    def residual_from_kspace(self, kx: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """``M (F x) - y`` given ``F x`` (zero off the mask, since ``y`` is masked)."""
        y = self.y if y is None else y
        r = np.empty_like(kx)
        kernels.masked_residual(kx, self.mask, y, r)
        return r

    def value_from_kspace(self, kx: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """``1/2 ||M F x - y||^2`` per slice given ``F x`` (float64)."""
        return kernels.data_value(kx, self.mask, self.y if y is None else y)

    def gradient_from_kspace(self, kx: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """``F^H M (M F x - y)`` given ``F x``: the residual is already zero off the mask."""
        return self.backend.ifft2(self.residual_from_kspace(kx, y))

    def zero_filled(self, y: np.ndarray | None = None) -> np.ndarray:
        """``A^H y``: the zero-filled image."""
        return self.backend.ifft2(self.y if y is None else y)
