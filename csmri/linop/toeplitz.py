"""``A^H D A`` of a NUFFT by Toeplitz embedding: one FFT pair on a twice-larger grid.

With ``A x (k_j) = 1/sqrt(H W) sum_r x(r) exp(-2 pi i k_j . r / N)``,

    (A^H D A x)(r) = sum_s T(r - s) x(s),   T(d) = 1/(H W) sum_j w_j exp(2 pi i k_j . d / N),

a convolution whose kernel lives on the offsets ``d`` in ``[-(H-1), H-1] x [-(W-1), W-1]``.
Embedded in a circulant on a ``(2H, 2W)`` grid it is applied by zero-padding ``x``,
one FFT, a product with the kernel's spectrum and one inverse FFT (then cropping).
The kernel is a type-1 NUFFT of the weights onto the ``(2H, 2W)`` offsets, computed
once in complex128 (finufft, tolerance 1e-12) and shared by NumPy and torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.fft

from csmri.arrays import constant_like, is_torch
from csmri.extras import require
from csmri.linop.fft import fft_workers


class ToeplitzKernel:
    """The spectrum of the circulant embedding of ``A^H D A``.

    Parameters
    ----------
    radians : ndarray, shape (2, M)
        Sample coordinates ``2 pi k / N``.
    shape : tuple of int
        ``(H, W)`` of the images.
    weights : ndarray, shape (M,), optional
        Real weights ``D`` (ones when omitted).
    """

    def __init__(
        self, radians: np.ndarray, shape: tuple[int, int], weights: np.ndarray | None = None
    ) -> None:
        finufft = require("finufft", "nufft", "non-Cartesian k-space")

        h, w = shape
        self.shape = (h, w)
        values = np.ones(radians.shape[1]) if weights is None else np.asarray(weights)
        # Modes -H..H-1 (finufft's centred order) are the offsets d; ifftshift puts d = 0 first.
        kernel = finufft.nufft2d1(
            radians[0], radians[1], values.astype(np.complex128), (2 * h, 2 * w),
            isign=1, eps=1e-12, nthreads=fft_workers() or 0,
        ) / (h * w)
        self.spectrum = scipy.fft.fft2(np.fft.ifftshift(kernel), workers=fft_workers())
        self._cache: dict = {}

    def apply(self, x: Any) -> Any:
        """``A^H D A x`` for images ``(..., H, W)`` (NumPy or torch, differentiable)."""
        h, w = self.shape
        grid = (2 * h, 2 * w)
        if is_torch(x):
            import torch

            spectrum = constant_like(self.spectrum, x, self._cache)
            padded = torch.fft.fft2(x, s=grid)
            return torch.fft.ifft2(padded * spectrum)[..., :h, :w]
        spectrum = constant_like(self.spectrum, x, self._cache)
        workers = fft_workers()
        padded = scipy.fft.fft2(x, s=grid, workers=workers)
        padded *= spectrum
        return scipy.fft.ifft2(padded, workers=workers, overwrite_x=True)[..., :h, :w]
