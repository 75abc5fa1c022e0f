"""SENSE-TGV: cost per iteration against SENSE-TV ADMM, and ADMM against Chambolle-Pock.

Usage::

    python benchmarks/bench_tgv_sense.py [--size 256] [--out benchmarks/RESULTS_tgv_sense.md]

Data: the Shepp-Logan phantom times a smooth ramp (``0.4 + 0.6 x + 0.3 y``, so TV
staircases), 8 birdcage coils (``csmri.mri.coil_sim``), a fastMRI random column mask at 4x
(centre 0.08), noise 0.005, NumPy backend, normalised by the data scale as
:func:`csmri.reconstruct` does.

1. Cost: median seconds per iteration (50 iterations) of SENSE-TV ADMM and SENSE-TGV
   (:mod:`csmri.solvers.tgv_general`) at ``size`` x ``size``, with the SENSE normal
   operator applications (``A^H A``: 2 x 8 FFTs each) counted per iteration.
2. Algorithm: on the same problem at 128 x 128, the objective gap to a reference minimum
   (the lower of 3000 ADMM iterations with a tight CG and 10000 PDHG iterations) after a
   given time, for ADMM (default rho; CG capped at 20, 5 or 2 iterations) and for the
   primal-dual iteration of Knoll et al. 2011 (one ``A`` and one ``A^H`` per iteration;
   ``sigma = s / L``, ``tau = 1 / (s L)`` with ``L = ||K||`` by power iteration).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from csmri.app.reconstruct import data_scales
from csmri.io.images import shepp_logan
from csmri.linop import Sense
from csmri.mri.coil_sim import simulate_multicoil
from csmri.regularizers import make_terms
from csmri.solvers import LeastSquares, admm
from csmri.solvers.norms import squared_norms
from csmri.solvers.tgv import TGV_RATIO
from csmri.solvers.tgv_general import tgv_general
from csmri.solvers.tgv_ops import (
    gradient,
    gradient_adjoint,
    group_norms,
    sym_grad,
    sym_grad_adjoint,
)

LAM = 0.003


def problem(size: int) -> tuple[Sense, np.ndarray]:
    """The SENSE operator and normalised k-space ``(1, 8, size, size)``."""
    image = shepp_logan(size)
    yy, xx = np.mgrid[:size, :size] / size
    image = image * (0.4 + 0.6 * xx + 0.3 * yy)
    data = simulate_multicoil((image / image.max())[None], coils=8, acceleration=4,
                              noise=0.005, seed=0)
    mask = data.mask[0]
    scale = data_scales(data.kspace, mask, data.maps)
    y = (data.kspace / scale[:, None, None, None]).astype(np.complex64)
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
    for name in ("tv", "tgv"):
        Counted.calls = 0
        data = LeastSquares(counted, y)
        if name == "tv":
            terms = make_terms("tv", y.shape[-2:], LAM)
            _, (h,) = admm(data, terms, max_iter=iters)
        else:
            _, (h,) = tgv_general(data, LAM, max_iter=iters)
        rows.append(f"| SENSE-{name.upper()} ADMM | {np.median(h.time) * 1e3:.1f} | "
                    f"{Counted.calls / iters:.2f} | {h.objective[-1]:.5f} |")
    return rows


def objective(op: Sense, y: np.ndarray, x: np.ndarray, w: np.ndarray) -> float:
    fit = 0.5 * squared_norms(op.forward(x) - y)[0]
    first = group_norms(gradient(x) - w).sum()
    return float(fit + LAM * (first + TGV_RATIO * group_norms(sym_grad(w)).sum()))


def operator_norm(op: Sense, shape: tuple, iters: int = 40) -> float:
    """``||K||`` for ``K (x, w) = (A x, D x - w, E' w)``, by power iteration on ``K^H K``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) + 0j
    w = rng.standard_normal((2, *shape)) + 0j
    value = 1.0
    for _ in range(iters):
        norm = np.sqrt(np.vdot(x, x).real + np.vdot(w, w).real)
        x, w = x / norm, w / norm
        r = gradient(x) - w
        e = sym_grad(w)
        x, w = op.normal(x) + gradient_adjoint(r), -r + sym_grad_adjoint(e)
        value = np.sqrt(np.sqrt(np.vdot(x, x).real + np.vdot(w, w).real))
    return 1.01 * float(value)


def project(field: np.ndarray, radius: float) -> np.ndarray:
    return field / np.maximum(group_norms(field) / radius, 1.0)


def pdhg(op: Sense, y: np.ndarray, iters: int, s: float, every: int) -> list[tuple]:
    """Chambolle-Pock for TGV (Knoll et al. 2011); ``(seconds, objective)`` every ``every``."""
    x = op.adjoint(y)
    w = np.zeros((2, *x.shape), x.dtype)
    r, p, q = np.zeros_like(y), np.zeros_like(w), np.zeros((3, *x.shape), x.dtype)
    norm = operator_norm(op, x.shape)
    sigma, tau = s / norm, 1.0 / (s * norm)
    xb, wb = x, w
    out, start = [], time.perf_counter()
    for it in range(1, iters + 1):
        r = (r + sigma * (op.forward(xb) - y)) / (1 + sigma)
        p = project(p + sigma * (gradient(xb) - wb), LAM)
        q = project(q + sigma * sym_grad(wb), TGV_RATIO * LAM)
        x_new = x - tau * (op.adjoint(r) + gradient_adjoint(p))
        w_new = w - tau * (sym_grad_adjoint(q) - p)
        xb, wb = 2 * x_new - x, 2 * w_new - w
        x, w = x_new, w_new
        if it % every == 0:
            elapsed = time.perf_counter() - start
            out.append((it, elapsed, objective(op, y, x, w)))
            start = time.perf_counter() - elapsed
    return out


def algorithms(size: int = 128) -> list[str]:
    op, y = problem(size)
    _, (ref,) = tgv_general(LeastSquares(op, y, cg_tol=1e-7, cg_iter=60), LAM, max_iter=3000)
    long_run = pdhg(op, y, 10000, 1.0, 10000)[-1][2]
    best = min(ref.objective[-1], long_run)
    runs = []
    for cg_iter in (20, 5, 2):
        _, (h,) = tgv_general(LeastSquares(op, y, cg_iter=cg_iter), LAM, max_iter=400)
        seconds = np.cumsum(h.time)
        for it in (25, 50, 100, 200, 400):
            runs.append((f"ADMM, CG <= {cg_iter}", it, seconds[it - 1], h.objective[it - 1]))
    for s in (0.1, 0.3, 1.0, 10.0):
        for it, sec, value in pdhg(op, y, 4000, s, 250):
            if it in (250, 500, 1000, 2000, 4000):
                runs.append((f"PDHG s={s:g}", it, sec, value))
    rows = [f"Reference minimum {best:.7f}: the lower of 3000 ADMM iterations (CG tol 1e-7; "
            f"{ref.objective[-1]:.7f}) and 10000 PDHG iterations (s = 1; {long_run:.7f}).", "",
            "| method | iterations | seconds | relative gap |", "|---|---|---|---|"]
    for name, it, sec, value in runs:
        rows.append(f"| {name} | {it} | {sec:.2f} | {(value - best) / best:.2e} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/RESULTS_tgv_sense.md"))
    args = parser.parse_args()
    lines = [f"# SENSE-TGV ({args.size} x {args.size}, 8 coils, 4x, lam {LAM})", "",
             "| solver | ms / iteration | A^H A per iteration | objective at 50 |",
             "|---|---|---|---|", *cost(args.size), "", "## ADMM against Chambolle-Pock (128)",
             "", *algorithms()]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
