"""The defaults of the CS reconstruction, in one place (every caller reads them from here)."""

from __future__ import annotations

REWEIGHTED_TV = "tv-reweighted"
"""Isotropic TV with iteratively reweighted l1 weights (Candes, Wakin and Boyd 2008): the
log penalty of :mod:`csmri.regularizers.reweighted`, by ADMM only."""

SINGLE_REGULARIZERS: tuple[str, ...] = ("tv", "tv-aniso", "wavelet", REWEIGHTED_TV)
"""Regularisers with one term (``tv`` is isotropic TV)."""

REGULARIZER_SUMS: dict[str, tuple[str, ...]] = {"tv+wavelet": ("tv", "wavelet")}
"""Sums of terms, each weighted by the same lambda (TV + wavelet: the prior of Lustig et al.
2007); ADMM only."""

TGV = "tgv"
"""Second-order total generalised variation: its own ADMM, fused per frequency on single-coil
NumPy data (:mod:`csmri.solvers.tgv`), with a CG x-update for SENSE or torch
(:mod:`csmri.solvers.tgv_general`)."""

REWEIGHTED_TGV = "tgv-reweighted"
"""TGV with both norms replaced by the log penalty, by reweighting (:mod:`csmri.solvers.tgv`);
the same solvers as TGV."""

TGVS: tuple[str, ...] = (TGV, REWEIGHTED_TGV)
"""The regularisers solved by TGV's own ADMM."""

ADMM_ONLY: tuple[str, ...] = (*REGULARIZER_SUMS, *TGVS, REWEIGHTED_TV)
"""Regularisers without a single prox that FISTA could use."""

REGULARIZERS: tuple[str, ...] = (*SINGLE_REGULARIZERS, *REGULARIZER_SUMS, *TGVS)
"""Every regulariser name that :func:`csmri.reconstruct` takes."""

SINGLE_COIL_ONLY: tuple[str, ...] = ()
"""Regularisers whose solver needs the single-coil Cartesian NumPy data term: none since TGV
has a solver for any operator (:mod:`csmri.solvers.tgv_general`); every one also runs on SENSE
and torch."""

DEFAULT_LAMBDA: dict[str, float] = {
    "tv": 0.003,
    "tv-aniso": 0.003,
    "wavelet": 0.003,
    "tv+wavelet": 0.0015,
    "tgv": 0.003,
    REWEIGHTED_TV: 0.001,
    REWEIGHTED_TGV: 0.001,
}
"""Default lambda per regulariser (normalised units), from the benchmark's best lambdas (the sum:
half of each term's, as both terms carry it; reweighted TV: between its calibrated 4x and 8x
values, :data:`csmri.app.autolambda.CALIBRATED`)."""

DEFAULT_WAVELET = "haar"
"""Orthogonal wavelet of the l1-wavelet prior, chosen by measurement (benchmarks/lambda_curves.py,
on MNI152 slices and Shepp-Logan, never the embedded sample): with cycle spinning, haar scored
2.1-2.6 dB above db2 and 3.1-3.5 dB above db4 at 4x."""

DEFAULT_SOLVER: dict[str, str] = {
    "tv": "admm",
    "tv-aniso": "admm",
    "wavelet": "fista",
    "tv+wavelet": "admm",
    "tgv": "admm",
    REWEIGHTED_TV: "admm",
    REWEIGHTED_TGV: "admm",
}
"""As BART's ``pics``: ADMM for TV (exact, diagonal x-update; no inner prox loop), FISTA with
cycle spinning for wavelets.  Measured at 320x320: an ADMM-TV iteration costs about 2 FFT
pairs against about 4 for FISTA-TV (5 inner FGP steps), at equal quality."""

DEFAULT_TV_ITER = 5
"""FGP iterations per TV prox, warm-started from the previous dual.  Measured on a 217x181
brain slice at 4x (lam 0.003, 100 FISTA iterations): 5 inner iterations end 0.13% above
the objective of 10 and within 0.002 dB PSNR, in 40% less time."""

DEFAULT_CHUNK = 16
"""Slices solved together (memory bound and vectorisation width)."""
