"""GRAPPA as a reconstruction method with the common interface (:mod:`csmri.app.methods`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from csmri.app.methods import MethodResult
from csmri.errors import UsageError
from csmri.mri.grappa import DEFAULT_KERNEL, DEFAULT_LAMBDA, grappa


@dataclass
class Grappa:
    """GRAPPA k-space filling then the RSS image (multi-coil data; maps are not used).

    Attributes
    ----------
    kernel : tuple of int
        ``(readout points, source lines)`` (:func:`csmri.mri.grappa.grappa`).
    tikhonov : float
        Kernel regularisation relative to the calibration matrix's largest singular value.
    name : str
        Name in tables.
    lam : None
        No CS lambda (tables print none).
    """

    kernel: tuple[int, int] = DEFAULT_KERNEL
    tikhonov: float = DEFAULT_LAMBDA
    name: str = "grappa"
    lam: float | None = None

    def run(
        self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None = None
    ) -> MethodResult:
        """RSS magnitude images ``(S, H, W)`` float32 of the GRAPPA-filled k-space."""
        if np.ndim(kspace) != 4:
            raise UsageError("grappa needs multi-coil k-space (S, C, H, W)")
        start = time.perf_counter()
        _, rss = grappa(np.asarray(kspace), mask, self.kernel, self.tikhonov)
        return MethodResult(rss, time.perf_counter() - start, [1] * len(rss))
