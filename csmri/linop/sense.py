"""Multi-coil operators: coil sensitivities and the SENSE forward model ``M F S``."""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.acquisition import Acquisition
from csmri.arrays import constant_like, is_torch
from csmri.errors import UsageError
from csmri.linop.base import Compose, LinearOperator
from csmri.linop.fourier import Cartesian


class CoilMaps(LinearOperator):
    """Multiplication by coil sensitivities: image ``(..., H, W)`` -> coils ``(..., C, H, W)``.

    Parameters
    ----------
    maps : complex array, shape (C, H, W) or (..., C, H, W)
        Sensitivity maps; leading dimensions broadcast against the image's.

    Notes
    -----
    The adjoint sums ``conj(maps) * y`` over the coil axis; with maps normalised so
    that ``sum_c |S_c|^2 = 1`` the operator is an isometry.
    """

    def __init__(self, maps: Any) -> None:
        if len(maps.shape) < 3:
            raise ValueError(f"coil maps must have shape (C, H, W), got {tuple(maps.shape)}")
        self.maps = maps if is_torch(maps) else np.asarray(maps)
        c, h, w = (int(s) for s in maps.shape[-3:])
        self.ishape = (h, w)
        self.oshape = (c, h, w)
        self._cache: dict = {}

    def sensitivities(self, like: Any) -> Any:
        """The maps as ``like``'s kind, device and complex precision."""
        if is_torch(self.maps):  # may carry gradients: convert, never cache
            return constant_like(self.maps, like)
        return constant_like(self.maps.astype(np.complex128, copy=False), like, self._cache)

    def forward(self, x: Any) -> Any:
        """``S x``: one image per coil."""
        return x[..., None, :, :] * self.sensitivities(x)

    def adjoint(self, y: Any) -> Any:
        """``S^H y = sum_c conj(S_c) y_c``."""
        product = y * self.sensitivities(y).conj()
        return product.sum(-3)


class Sense(Compose):
    """The SENSE operator ``A = M F S`` (``Mask @ FFT2c @ CoilMaps``).

    Parameters
    ----------
    maps : complex array, shape (C, H, W) or (..., C, H, W)
        Coil sensitivities.
    mask : array, shape (W,) or (H, W)
        Sampling mask, the same for every coil.

    Notes
    -----
    ``(A^H A + rho I)`` has no closed form (the coils couple the frequencies):
    :meth:`solve_normal` returns None and ADMM solves it by conjugate gradients.
    """

    def __init__(self, maps: Any, mask: Any) -> None:
        self.coils = CoilMaps(maps)
        self.cartesian = Cartesian(mask, self.coils.ishape)
        super().__init__(self.cartesian, self.coils)

    @property
    def mask(self) -> np.ndarray:
        """The 0/1 mask."""
        return self.cartesian.mask

    @property
    def maps(self) -> Any:
        """The coil sensitivities."""
        return self.coils.maps


def forward_operator(acq: Acquisition) -> LinearOperator:
    """The forward operator of one slice of an acquisition.

    ``Cartesian(mask)`` for one coil without maps, ``Sense(maps, mask)`` otherwise.

    Parameters
    ----------
    acq : Acquisition
        The data; multi-coil data need maps (:func:`csmri.mri.coils.ensure_maps`).

    Returns
    -------
    LinearOperator
        ``A`` with ``A^H A`` the data term's normal operator.

    Raises
    ------
    UsageError
        For multi-coil data without maps.
    """
    if not acq.is_multicoil:
        return Cartesian(acq.mask)
    if acq.maps is None:
        raise UsageError("multi-coil data need coil maps: csmri.mri.coils.ensure_maps(acq)")
    return Sense(acq.maps, acq.mask)
