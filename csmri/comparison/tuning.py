"""Choose lambda per method and acceleration on tuning slices only (log-scale search)."""

from __future__ import annotations

import dataclasses

import numpy as np

from csmri.comparison.cases import Case
from csmri.methods import ReconMethod
from csmri.metrics import center_crop, psnr

COARSE_DECADES = np.linspace(-1.5, 1.5, 7)
FINE_DECADES = (-0.25, 0.25)


def tuning_score(method: ReconMethod, case: Case) -> float:
    """Mean PSNR of ``method`` over the case's tuning slices (never the scored ones)."""
    result = method.run(case.kspace[case.tuning], case.mask)
    scores = [
        psnr(case.target[i], center_crop(image, case.target.shape[-2:]))
        for i, image in zip(case.tuning, result.images, strict=True)
    ]
    return float(np.mean(scores))


def tune_lambda(method: ReconMethod, case: Case, centre: float) -> tuple[float, dict[float, float]]:
    """Log-scale search for the lambda with the best tuning PSNR.

    A coarse grid of 7 values over three decades around ``centre``, then two
    values a quarter decade either side of the best.

    Parameters
    ----------
    method : ReconMethod
        A method with a ``lam`` field (a dataclass).
    case : Case
        Supplies the tuning slices.
    centre : float
        Middle of the coarse grid (the regulariser's default lambda).

    Returns
    -------
    tuple
        The best lambda and every lambda tried with its tuning PSNR.
    """
    if not case.tuning:
        raise ValueError("lambda tuning needs tuning slices")
    tried: dict[float, float] = {}

    def score(lam: float) -> float:
        if lam not in tried:
            tried[lam] = tuning_score(dataclasses.replace(method, lam=lam), case)
        return tried[lam]

    for decade in COARSE_DECADES:
        score(float(centre * 10**decade))
    best = max(tried, key=tried.__getitem__)
    for decade in FINE_DECADES:
        score(float(best * 10**decade))
    best = max(tried, key=tried.__getitem__)
    return best, dict(sorted(tried.items()))
