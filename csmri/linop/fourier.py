"""Single-coil Cartesian operators: the centred FFT, the sampling mask and their product.

Masks are 0/1 (nonzero = sampled), either a column mask of shape ``(W,)`` or a 2-D
mask ``(H, W)``; both broadcast over the last two axes (and any coil axis).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.arrays import constant_like, is_torch
from csmri.linop.base import Compose, LinearOperator, Shape, unify_shapes
from csmri.linop.fft import column_normal, fft2c, ifft2c


def _image_shape(shape: tuple[int, ...] | None) -> Shape:
    if shape is None:
        return (None, None)
    h, w = (int(s) for s in shape[-2:])
    return (h, w)


def _per_slice(rho: Any, like: Any) -> Any:
    """A weight or one weight per leading index, shaped to broadcast over ``(..., H, W)``."""
    if np.ndim(rho) == 0 and not is_torch(rho):
        return float(rho)
    values = constant_like(np.asarray(rho, dtype=np.float64), like) if not is_torch(rho) else rho
    return values[..., None, None]


def _inverse(denominator: Any) -> Any:
    """``1 / d`` where ``d > 0``, else 0 (a frequency neither sampled nor penalised)."""
    if is_torch(denominator):
        import torch

        safe = torch.where(denominator > 0, denominator, torch.ones_like(denominator))
        return torch.where(denominator > 0, 1.0 / safe, torch.zeros_like(denominator))
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, 1.0 / safe, 0.0).astype(denominator.dtype)


class FFT2c(LinearOperator):
    """The centred orthonormal 2-D FFT over the last two axes (unitary: ``F^H F = I``).

    Parameters
    ----------
    shape : tuple of int, optional
        ``(H, W)``; any size when omitted.
    """

    def __init__(self, shape: tuple[int, ...] | None = None) -> None:
        self.ishape = self.oshape = _image_shape(shape)

    def forward(self, x: Any) -> Any:
        """``fft2c(x)``."""
        return fft2c(x)

    def adjoint(self, y: Any) -> Any:
        """``ifft2c(y)``."""
        return ifft2c(y)

    def normal(self, x: Any) -> Any:
        """The identity."""
        return x

    def solve_normal(self, b: Any, rho: Any, gram: Any = None) -> Any:
        """``ifft2c(fft2c(b) / (1 + rho G))``; ``b / (1 + rho)`` when ``G = I``."""
        if gram is None:
            return b / (1.0 + _per_slice(rho, b))
        den = 1.0 + _per_slice(rho, b) * constant_like(gram, b)
        return ifft2c(fft2c(b) * _inverse(den))


class Mask(LinearOperator):
    """Multiplication by a 0/1 sampling mask (self-adjoint and idempotent).

    Parameters
    ----------
    mask : array, shape (W,) or (H, W)
        Nonzero where sampled.
    """

    def __init__(self, mask: Any) -> None:
        values = mask.detach().cpu().numpy() if is_torch(mask) else np.asarray(mask)
        if values.ndim not in (1, 2):
            raise ValueError(f"mask must have shape (W,) or (H, W), got {values.shape}")
        self.mask = (values != 0).astype(np.float32)
        self.ishape = self.oshape = (
            (None, values.shape[0]) if values.ndim == 1 else tuple(values.shape)
        )
        self._cache: dict = {}

    def weights(self, like: Any) -> Any:
        """The mask as ``like``'s kind, device and real precision."""
        return constant_like(self.mask, like, self._cache)

    def forward(self, x: Any) -> Any:
        """``M x``."""
        return x * self.weights(x)

    def adjoint(self, y: Any) -> Any:
        """``M y`` (self-adjoint)."""
        return y * self.weights(y)

    def normal(self, x: Any) -> Any:
        """``M x`` (idempotent)."""
        return x * self.weights(x)

    def solve_normal(self, b: Any, rho: Any, gram: Any = None) -> Any | None:
        """``b / (M + rho)``; None for ``G != I`` (not diagonal in the same basis)."""
        if gram is not None:
            return None
        return b * _inverse(self.weights(b) + _per_slice(rho, b))


class Cartesian(Compose):
    """Single-coil Cartesian sampling ``A = M F`` (``Mask @ FFT2c``).

    Parameters
    ----------
    mask : array, shape (W,) or (H, W)
        Sampling mask.
    shape : tuple of int, optional
        ``(H, W)`` of the images, where a column mask leaves ``H`` open.

    Notes
    -----
    ``A^H A = F^H M F`` has norm 1 (the Lipschitz constant of the data term's
    gradient), and ``(A^H A + rho G)`` with ``G`` diagonal in k-space is solved
    exactly by one FFT pair.
    """

    def __init__(self, mask: Any, shape: tuple[int, ...] | None = None) -> None:
        self.mask_op = Mask(mask)
        column = self.mask_op.mask.ndim == 1  # F^H M F with 1-D FFTs (column_normal)
        self._column_weights = np.fft.ifftshift(self.mask_op.mask) if column else None
        self._shifted: dict = {}
        super().__init__(self.mask_op, FFT2c(shape))
        self.ishape = self.oshape = unify_shapes(
            self.mask_op.ishape, _image_shape(shape), "the mask and the image shape"
        )

    @property
    def mask(self) -> np.ndarray:
        """The 0/1 mask (float32, as given: ``(W,)`` or ``(H, W)``)."""
        return self.mask_op.mask

    def normal(self, x: Any) -> Any:
        """``F^H M F x``: one FFT pair (1-D along the columns for a column mask)."""
        if self._column_weights is not None:
            return column_normal(x, constant_like(self._column_weights, x, self._shifted))
        return ifft2c(self.mask_op.normal(fft2c(x)))

    def solve_normal(self, b: Any, rho: Any, gram: Any = None) -> Any:
        """``F^H (M + rho G)^-1 F b`` (frequencies with ``M + rho G = 0`` are set to 0)."""
        k = fft2c(b)
        den = self.mask_op.weights(k) + _per_slice(rho, b) * (
            1.0 if gram is None else constant_like(gram, k)
        )
        return ifft2c(k * _inverse(den))
