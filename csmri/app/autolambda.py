"""Automatic lambda without a reference image.

:func:`calibrated_lambda` is the regulariser's default lambda calibrated per
acceleration on images other than the embedded sample (MNI152 slices in three
orientations and Shepp-Logan phantoms, ``benchmarks/lambda_curves.py``);
:func:`auto_lambda` picks lambda for a k-space stack from its realised acceleration
(a noise-scaled rule was measured and rejected: see the README).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from csmri.app.methods import CompressedSensing, MethodResult

STATED_DISTANCE_DB = 0.3
"""How far below the best lambda of a fine grid :func:`auto_lambda` may land (PSNR, dB)."""

CALIBRATED = {
    "tv": ((4.0, 0.001), (8.0, 0.00316)),
    "tv-aniso": ((4.0, 0.001), (8.0, 0.00316)),
    "wavelet": ((4.0, 0.00178), (8.0, 0.00178)),
    "tv+wavelet": ((4.0, 0.001), (8.0, 0.00178)),
    "tgv": ((4.0, 0.00178), (8.0, 0.001)),
    "tv-reweighted": ((4.0, 0.00316), (8.0, 0.000316)),
    "tgv-reweighted": ((4.0, 0.00316), (8.0, 0.000562)),
}
"""Per regulariser: (acceleration, lambda) pairs, interpolated log-linearly in between.

TV: the lambda of the grid (quarter decades, 0.001-0.018, 100 ADMM iterations, noise
0.005) with the smallest mean PSNR loss against each image's best, over 3 MNI152 slices
(axial, coronal, sagittal) and the Shepp-Logan phantom (``benchmarks/lambda_curves.py``):
mean/max loss 0.01/0.04 dB at 4x, 0.07/0.25 dB at 8x.  Anisotropic TV takes isotropic
TV's values (not calibrated separately).  Wavelets (FISTA, cycle spinning): 0.00178 was the
best grid lambda for haar, db2 and db4 at 4x (loss <= 0.01 dB) and for db2 at 8x; for haar at
8x 0.00178 and 0.00316 tie (24.07 dB mean).  TV + wavelet (haar, cycle-spun ADMM, both terms
weighted by lambda; ``lambda_curves_sum.json``): 0.001 at 4x (the grid's lower edge) and
0.00178 at 8x (0.00316 within 0.01 dB).  TGV (100 ADMM iterations, ``rho = 10 lam`` when
measured): 0.00178 at 4x, 0.001 at 8x (the grid's lower edge).  Reweighted TV
(``lambda_curves_rw.json``, grid from 0.000316): 0.00316 at 4x (mean/max loss 0.04/0.08 dB;
the MNI152 slices peak at 0.001-0.00178, the phantom at 0.00316) and 0.000316 at 8x (the
grid's lower edge; mean/max loss 0.00/0.01 dB: below 0.002 the MNI152 curves are flat to
0.03 dB, and the phantom prefers the lowest).  Reweighted TGV (same file and grid): 0.00316
at 4x (mean/max loss 0.02/0.06 dB) and 0.000562 at 8x (0.00/0.00 dB).  Held-out images were
not measured."""


SENSE_LAMBDA = 0.003
"""Lambda of every regulariser on multi-coil (SENSE) data: the best of ``bench_multicoil``'s grid
on simulated 8-coil brains at 4x and 8x.  Not calibrated per acceleration or regulariser."""


def calibrated_lambda(reg: str, acceleration: float) -> float:
    """The calibrated default lambda of ``reg`` at ``acceleration`` (normalised units).

    Parameters
    ----------
    reg : str
        Regulariser name.
    acceleration : float
        Realised acceleration (sampled fraction ``1/R``); clamped to the calibrated range.

    Returns
    -------
    float
        Lambda, interpolated log-linearly in the acceleration.
    """
    points = CALIBRATED.get(reg, CALIBRATED["tv"])
    rates = np.log([r for r, _ in points])
    lams = np.log([lam for _, lam in points])
    return float(np.exp(np.interp(np.log(max(acceleration, 1.0)), rates, lams)))


@dataclass(frozen=True)
class LambdaChoice:
    """An automatically chosen lambda and how it was chosen.

    Attributes
    ----------
    lam : float
        Lambda in normalised units.
    rule : str
        One line for the user: the rule and its inputs.
    """

    lam: float
    rule: str


def auto_lambda(
    kspace: np.ndarray,
    mask: np.ndarray,
    reg: str,
    multicoil: bool = False,
    acceleration: float | None = None,
) -> LambdaChoice:
    """Lambda for ``reg`` on this k-space, without a reference image.

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W) or (H, W)
        Centred, masked k-space (only the mask and noise level matter).
    mask : ndarray, shape (W,) or (H, W)
        Sampling mask.
    reg : str
        Regulariser name.
    multicoil : bool
        SENSE data (also implied by 4-D k-space ``(S, C, H, W)``): :data:`SENSE_LAMBDA`.
    acceleration : float, optional
        The realised acceleration when the mask cannot tell it (a non-Cartesian
        trajectory: :attr:`csmri.acquisition.Acquisition.acceleration`).

    Returns
    -------
    LambdaChoice
        The calibrated lambda at the realised acceleration.
    """
    if acceleration is None:
        sampled = np.asarray(mask) != 0
        acceleration = sampled.size / max(int(sampled.sum()), 1)
    if np.ndim(kspace) == 4 or multicoil:
        return LambdaChoice(SENSE_LAMBDA, f"SENSE default at the realised {acceleration:.1f}x")
    lam = calibrated_lambda(reg, acceleration)
    return LambdaChoice(lam, f"calibrated for {reg} at the realised {acceleration:.1f}x")


@dataclass(frozen=True)
class AutoLambdaMethod:
    """A CS method whose lambda :func:`auto_lambda` picks for each input it runs on.

    For batches of files with different masks: each file gets the lambda that ``csmri
    solve`` would pick for it alone, so the outputs are the same bits.

    Attributes
    ----------
    method : CompressedSensing
        The method; its own lambda is replaced on every run.
    """

    method: CompressedSensing

    @property
    def name(self) -> str:
        """The wrapped method's name."""
        return self.method.name

    @property
    def lam(self) -> None:
        """None: chosen per input."""
        return None

    def run(
        self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None = None
    ) -> MethodResult:
        """Run the method with the lambda picked for this k-space and mask."""
        lam = auto_lambda(kspace, mask, self.method.reg, maps is not None).lam
        return replace(self.method, lam=lam).run(kspace, mask, maps)
