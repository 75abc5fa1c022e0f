"""Automatic lambda without a reference image.

:func:`calibrated_lambda` is the regulariser's default lambda calibrated per
acceleration on synthetic images (not on the embedded sample).
"""

from __future__ import annotations

import numpy as np

CALIBRATED = {
    "tv": ((4.0, 0.003), (8.0, 0.003)),
    "tv-aniso": ((4.0, 0.003), (8.0, 0.003)),
    "wavelet": ((4.0, 0.003), (8.0, 0.003)),
}
"""Per regulariser: (acceleration, best lambda) pairs, interpolated in log-log."""


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
