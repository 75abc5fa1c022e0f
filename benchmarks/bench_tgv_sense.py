"""SENSE-TGV: cost per iteration against SENSE-TV ADMM, and ADMM against Chambolle-Pock.

Usage::

    python benchmarks/bench_tgv_sense.py [--size 256] [--out benchmarks/RESULTS_tgv_sense.md]

Data: the Shepp-Logan phantom times a smooth ramp (``0.4 + 0.6 x + 0.3 y``, so TV
staircases), 8 birdcage coils (``csmri.mri.coil_sim``), a fastMRI random column mask at 4x
(centre 0.08), noise 0.005, NumPy backend, normalised by the data scale as
:func:`csmri.reconstruct` does.

1. Cost: median seconds per iteration (50 iterations) of SENSE-TV ADMM and SENSE-TGV
   (:mod:`csmri.solvers.tgv_general`) at ``size`` x ``size``, with the SENSE normal
   operator applications (``A^H A``: 2 x 8 FFTs each) counted per iteration, with plain CG
   and with the circulant preconditioner of :mod:`csmri.solvers.preconditioner` (PCG).
   (PDHG: one ``A`` and one ``A^H`` per iteration, no normal operator.)
2. Algorithm: on the same problem at 128 x 128, the objective gap to a reference minimum
   (the lower of 3000 ADMM iterations with a tight CG and 10000 PDHG iterations) after a
   given time, for ADMM (default rho; CG or PCG capped at 20, CG at 5) and for the
   primal-dual iteration of Knoll et al. 2011 (:mod:`csmri.solvers.tgv_pdhg`;
   ``sigma = s / L``, ``tau = 1 / (s L)``, ``L`` its bound on ``||K||``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from csmri.app.reconstruct import data_scales
from csmri.io.images import shepp_logan
from csmri.linop import Sense
from csmri.metrics import psnr
from csmri.mri.coil_sim import simulate_multicoil
from csmri.regularizers import make_terms
from csmri.solvers import LeastSquares, admm
from csmri.solvers.preconditioner import PreconditionedSense
from csmri.solvers.tgv_general import tgv_general
from csmri.solvers.tgv_pdhg import tgv_pdhg

LAM = 0.003


def problem(size: int, with_target: bool = False) -> tuple:
    """The SENSE operator and normalised k-space ``(1, 8, size, size)`` (and the target)."""
    image = shepp_logan(size)
    yy, xx = np.mgrid[:size, :size] / size
    image = image * (0.4 + 0.6 * xx + 0.3 * yy)
    data = simulate_multicoil((image / image.max())[None], coils=8, acceleration=4,
                              noise=0.005, seed=0)
    mask = data.mask[0]
    scale = data_scales(data.kspace, mask, data.maps)
    y = (data.kspace / scale[:, None, None, None]).astype(np.complex64)
    if with_target:
        return Sense(data.maps, mask), y, data.reference / scale[:, None, None]
    return Sense(data.maps, mask), y


class Counted(Sense):
    """A SENSE operator that counts its normal-operator applications."""

    calls = 0

    def normal(self, x):
        Counted.calls += 1
        return super().normal(x)


def cost(size: int, iters: int = 50) -> list[str]:
    op, y = problem(size)
    counted = Counted(op.maps, op.mask)
    rows = []
    for name in ("TV ADMM", "TV ADMM + PCG", "TGV ADMM", "TGV ADMM + PCG", "TGV PDHG"):
        Counted.calls = 0
        data = (PreconditionedSense if "PCG" in name else LeastSquares)(counted, y)
        if name.startswith("TV"):
            terms = make_terms("tv", y.shape[-2:], LAM)
            _, (h,) = admm(data, terms, max_iter=iters)
        elif "ADMM" in name:
            _, (h,) = tgv_general(data, LAM, max_iter=iters)
        else:
            _, (h,) = tgv_pdhg(data, LAM, max_iter=iters)
        rows.append(f"| SENSE-{name} | {np.median(h.time) * 1e3:.1f} | "
                    f"{Counted.calls / iters:.2f} | {h.objective[-1]:.5f} |")
    return rows


def algorithms(size: int = 128) -> list[str]:
    op, y = problem(size)
    _, (ref,) = tgv_general(LeastSquares(op, y, cg_tol=1e-7, cg_iter=60), LAM, max_iter=3000)
    long_run = tgv_pdhg(LeastSquares(op, y), LAM, max_iter=10000)[1][0].objective[-1]
    best = min(ref.objective[-1], long_run)
    runs = []
    for cg_iter, kind in ((20, LeastSquares), (20, PreconditionedSense), (5, LeastSquares)):
        _, (h,) = tgv_general(kind(op, y, cg_iter=cg_iter), LAM, max_iter=400)
        seconds = np.cumsum(h.time)
        label = f"ADMM, {'PCG' if kind is PreconditionedSense else 'CG'} <= {cg_iter}"
        for it in (25, 50, 100, 200, 400):
            runs.append((label, it, seconds[it - 1], h.objective[it - 1]))
    for s in (0.1, 1.0, 10.0):
        _, (h,) = tgv_pdhg(LeastSquares(op, y), LAM, max_iter=4000, ratio=s)
        seconds = np.cumsum(h.time)
        for it in (250, 500, 1000, 2000, 4000):
            runs.append((f"PDHG s={s:g}", it, seconds[it - 1], h.objective[it - 1]))
    rows = [f"Reference minimum {best:.7f}: the lower of 3000 ADMM iterations (CG tol 1e-7; "
            f"{ref.objective[-1]:.7f}) and 10000 PDHG iterations (s = 1; {long_run:.7f}).", "",
            "| method | iterations | seconds | relative gap |", "|---|---|---|---|"]
    for name, it, sec, value in runs:
        rows.append(f"| {name} | {it} | {sec:.2f} | {(value - best) / best:.2e} |")
    return rows


def quality(size: int = 128) -> list[str]:
    """PSNR and seconds of SENSE-TV and SENSE-TGV (ADMM, PDHG) at two lambdas."""
    op, y, target = problem(size, with_target=True)
    rows = ["| method | iterations | lambda | PSNR (dB) | seconds |", "|---|---|---|---|---|"]
    for lam in (0.001, 0.003):
        for name, iters in (("TV ADMM", 100), ("TGV ADMM + PCG", 100), ("TGV PDHG", 500),
                            ("TGV PDHG", 1000)):
            data = (PreconditionedSense if "PCG" in name else LeastSquares)(op, y)
            if name == "TV ADMM":
                images, (h,) = admm(data, make_terms("tv", y.shape[-2:], lam), max_iter=iters)
            elif "ADMM" in name:
                images, (h,) = tgv_general(data, lam, max_iter=iters)
            else:
                images, (h,) = tgv_pdhg(data, lam, max_iter=iters)
            score = psnr(target, np.abs(images))
            rows.append(f"| SENSE-{name} | {iters} | {lam:g} | {score:.2f} | {sum(h.time):.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/RESULTS_tgv_sense.md"))
    args = parser.parse_args()
    lines = [f"# SENSE-TGV ({args.size} x {args.size}, 8 coils, 4x, lam {LAM})", "",
             "| solver | ms / iteration | A^H A per iteration | objective at 50 |",
             "|---|---|---|---|", *cost(args.size), "", "## ADMM against Chambolle-Pock (128)",
             "", *algorithms(), "", "## Quality (128, 100 ADMM iterations)", "", *quality()]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
