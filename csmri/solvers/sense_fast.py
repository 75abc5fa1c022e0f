"""The NumPy fast path of the SENSE data term: uncentred FFTs, no shift copies.

As for :class:`csmri.solvers.data.CartesianFast`, ``F_c z = fftshift(phi * F z)`` with
``F`` the uncentred orthonormal FFT and ``phi`` a unit-modulus diagonal
(:func:`csmri.linop.fft.shift_phase`), so for any size

``||M_c F_c S x - y|| = ||M_u F S x - y_u||``,  ``M_u = ifftshift(M_c)``,
``y_u = conj(phi) * ifftshift(y)``.

The measurements are moved once; each iteration then costs one FFT per coil and
direction and no ``fftshift`` / ``ifftshift`` copies of the coil images (those
were a quarter of the FFT time on the real 8-coil 230 x 180 slice), and the maps
stay in the data's precision (the generic operator made a complex128 copy per call).
The iterates are the same as with :class:`csmri.linop.Sense` up to rounding.
:func:`csmri.solvers.data.least_squares` builds the data term
``LeastSquares(UncentredSense(maps, mask), to_uncentred(y, mask))`` for NumPy
``complex64`` SENSE data.
"""

from __future__ import annotations

import numpy as np

from csmri.backend import get_backend
from csmri.linop import LinearOperator
from csmri.linop.fft import shift_phase


class UncentredSense(LinearOperator):
    """``M_u F S`` on NumPy ``complex64`` stacks (uncentred spectra; see the module docstring).

    Parameters
    ----------
    maps : ndarray, shape (C, H, W) or (S, C, H, W)
        Coil sensitivities.
    mask : ndarray, shape (W,) or (H, W)
        Centred sampling mask.
    """

    def __init__(self, maps: np.ndarray, mask: np.ndarray) -> None:
        self.maps = np.asarray(maps, dtype=np.complex64)
        self.maps_conj = self.maps.conj()
        c, h, w = self.maps.shape[-3:]
        mask = np.asarray(mask)
        full = np.broadcast_to(mask if mask.ndim == 2 else mask[None, :], (h, w))
        self.mask = np.ascontiguousarray(np.fft.ifftshift(full != 0), dtype=np.float32)
        self.ishape, self.oshape = (h, w), (c, h, w)
        self.backend = get_backend()

    def spectrum(self, x: np.ndarray) -> np.ndarray:
        """``F S x`` (unmasked), ``(S, C, H, W)``."""
        return self.backend.fft2(x[:, None] * self.maps)

    def combine(self, k: np.ndarray) -> np.ndarray:
        """``S^H F^H k`` of an (already masked) spectrum."""
        images = self.backend.ifft2(k)
        images *= self.maps_conj
        return images.sum(axis=1)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``M_u F S x``."""
        return self.spectrum(x) * self.mask

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """``S^H F^H M_u y``."""
        return self.combine(y * self.mask)

    def normal(self, x: np.ndarray) -> np.ndarray:
        """``S^H F^H M_u F S x`` (the mask once: it is idempotent)."""
        return self.combine(self.forward(x))

    def solve_normal(self, b, rho, gram=None) -> None:
        """No closed form (the coils couple the frequencies): None, so CG is used."""
        return None

    def take(self, index: np.ndarray) -> UncentredSense:
        """The operator of the slices ``index`` (per-slice maps), or itself (shared maps)."""
        if self.maps.ndim == 3:
            return self
        out = object.__new__(UncentredSense)
        out.__dict__.update(self.__dict__)
        out.maps, out.maps_conj = self.maps[index], self.maps_conj[index]
        return out


def to_uncentred(kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``y_u = conj(phi) * ifftshift(M_c y)``, ``(S, C, H, W)`` complex64."""
    h, w = kspace.shape[-2:]
    mask = np.asarray(mask)
    full = np.broadcast_to(mask if mask.ndim == 2 else mask[None, :], (h, w)) != 0
    shifted = np.fft.ifftshift(kspace * full, axes=(-2, -1))
    return (np.conj(shift_phase((h, w))) * shifted).astype(np.complex64)
