"""Linear operators of the MRI forward model, on NumPy arrays and torch tensors.

* :class:`LinearOperator` (:mod:`csmri.linop.base`): ``forward``, ``adjoint``,
  ``normal``, ``.H``, composition ``A @ B`` and an optional exact
  ``solve_normal(b, rho)`` of ``(A^H A + rho I) x = b``;
* :class:`FFT2c`, :class:`Mask`, :class:`Cartesian` = ``Mask @ FFT2c``
  (:mod:`csmri.linop.fourier`);
* :class:`CoilMaps`, :class:`Sense` = ``Mask @ FFT2c @ CoilMaps``
  (:mod:`csmri.linop.sense`);
* :class:`NUFFT`, :class:`SenseNUFFT` = ``NUFFT @ CoilMaps`` for radial and spiral
  k-space (:mod:`csmri.linop.nufft`; finufft / torchkbnufft imported on first use);
* :func:`forward_operator`, the operator of an :class:`csmri.acquisition.Acquisition`;
* :func:`adjointness_test`, the check every operator passes.
"""

from __future__ import annotations

from csmri.linop.base import Adjoint, Compose, LinearOperator, Scaled, adjointness_test
from csmri.linop.fourier import Cartesian, FFT2c, Mask
from csmri.linop.nufft import NUFFT, SenseNUFFT
from csmri.linop.sense import CoilMaps, Sense, forward_operator

__all__ = [
    "NUFFT",
    "Adjoint",
    "Cartesian",
    "CoilMaps",
    "Compose",
    "FFT2c",
    "LinearOperator",
    "Mask",
    "Scaled",
    "Sense",
    "SenseNUFFT",
    "adjointness_test",
    "forward_operator",
]
