"""Choose lambda per method and acceleration on tuning slices only (log-scale search).

The search evaluates four values spread over two decades around the regulariser's
default (steps of 2/3 decade), extends the grid while the best value sits on an
edge, then refines 1/6 decade either side of the best.  Grid points are independent, so they run in
parallel worker processes when an executor is given (tuning is never timed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from concurrent.futures import Executor

import numpy as np

from csmri.app.methods import ReconMethod, run_method
from csmri.metrics import center_crop, psnr
from learned.comparison.cases import Case

COARSE_DECADES = (-1.0, -1.0 / 3.0, 1.0 / 3.0, 1.0)
FINE_DECADES = (-1.0 / 6.0, 1.0 / 6.0)
EXTENSION_DECADES = 2.0 / 3.0
MAX_EXTENSIONS = 2


def tuning_score(
    method: ReconMethod,
    kspace: np.ndarray,
    mask: np.ndarray,
    targets: np.ndarray,
    maps: np.ndarray | None = None,
) -> float:
    """Mean PSNR of ``method`` over tuning slices ``kspace`` against their ``targets``.

    Parameters
    ----------
    method : ReconMethod
        Method with the lambda to score.
    kspace : ndarray, shape (T, H, W)
        The tuning slices only.
    mask : ndarray, shape (W,)
        Sampled columns.
    targets : ndarray, shape (T, h, w)
        Their magnitude references.
    maps : ndarray, optional
        Coil maps of multi-coil tuning k-space.

    Returns
    -------
    float
        Mean PSNR in dB.
    """
    result = run_method(method, kspace, mask, maps)
    scores = [
        psnr(target, center_crop(image, target.shape))
        for target, image in zip(targets, result.images, strict=True)
    ]
    return float(np.mean(scores))


def _score_lambda(args: tuple) -> float:
    method, lam, kspace, mask, targets, maps = args
    return tuning_score(dataclasses.replace(method, lam=lam), kspace, mask, targets, maps)


def tune_lambda(
    method: ReconMethod, case: Case, centre: float, executor: Executor | None = None
) -> tuple[float, dict[float, float]]:
    """Log-scale search for the lambda with the best mean PSNR on the case's tuning slices.

    Parameters
    ----------
    method : ReconMethod
        A dataclass method with a ``lam`` field.
    case : Case
        Supplies the tuning data (:meth:`Case.tuning_data`: its tuning slices or an
        independent realisation; the scored slices are never touched).
    centre : float
        Middle of the coarse grid (the regulariser's default lambda).
    executor : concurrent.futures.Executor, optional
        Evaluates grid points in parallel; sequential when omitted.

    Returns
    -------
    tuple
        The best lambda and every lambda tried with its tuning PSNR.
    """
    kspace, mask, targets, maps = case.tuning_data()
    tried: dict[float, float] = {}
    run_map: Callable[[Callable, Iterable], Iterable] = executor.map if executor else map

    def evaluate(lams: list[float]) -> None:
        fresh = [lam for lam in lams if lam not in tried]
        jobs = [(method, lam, kspace, mask, targets, maps) for lam in fresh]
        tried.update(zip(fresh, run_map(_score_lambda, jobs), strict=True))

    evaluate([float(centre * 10**d) for d in COARSE_DECADES])
    for _ in range(MAX_EXTENSIONS):
        ordered = sorted(tried)
        best = max(tried, key=tried.__getitem__)
        if best == ordered[0]:
            evaluate([best / 10**EXTENSION_DECADES])
        elif best == ordered[-1]:
            evaluate([best * 10**EXTENSION_DECADES])
        else:
            break
    best = max(tried, key=tried.__getitem__)
    evaluate([float(best * 10**d) for d in FINE_DECADES])
    best = max(tried, key=tried.__getitem__)
    return best, dict(sorted(tried.items()))
